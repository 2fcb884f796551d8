package store

import (
	"context"
	"strconv"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

type metaRow struct {
	Key   string `gorm:"primaryKey"`
	Value string
}

func (metaRow) TableName() string { return "meta" }

func getMeta(tx *gorm.DB, key string) (string, error) {
	var row metaRow
	if err := tx.Where("key = ?", key).Take(&row).Error; err != nil {
		return "", translate(err, "Setting "+key)
	}
	return row.Value, nil
}

func setMeta(tx *gorm.DB, key, value string) error {
	return tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "key"}},
		DoUpdates: clause.AssignmentColumns([]string{"value"}),
	}).Create(&metaRow{Key: key, Value: value}).Error
}

const keyConfigVersion = "config_version"

// ConfigVersion returns a number that changes whenever handlers or
// procedures change, so that caches know when to reload.
func (db *DB) ConfigVersion(ctx context.Context) (int64, error) {
	v, err := getMeta(db.db.WithContext(ctx), keyConfigVersion)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// bumpConfigVersion is called in every transaction that changes handlers or
// procedures.
func bumpConfigVersion(tx *gorm.DB) error {
	return tx.Exec(`INSERT INTO meta (key, value) VALUES (?, '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)`, keyConfigVersion).Error
}

const keyRevocationSequence = "revocation_sequence"

// revocationSequence reads the revocation sequence: 0 before the first
// revocation.
func revocationSequence(tx *gorm.DB) (int64, error) {
	v, err := getMeta(tx, keyRevocationSequence)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// bumpRevocationSequence is called in every transaction that revokes a
// certificate. Its update locks the row until the transaction ends, so
// concurrent revocations take their numbers in the order they commit.
func bumpRevocationSequence(tx *gorm.DB) error {
	return tx.Exec(`INSERT INTO meta (key, value) VALUES (?, '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)`, keyRevocationSequence).Error
}

// finishConfigChange bumps the configuration version and records audit
// (its Target defaulting to target).
func finishConfigChange(tx *gorm.DB, db *DB, audit *model.AuditEvent, target string) error {
	if err := bumpConfigVersion(tx); err != nil {
		return err
	}
	if audit == nil {
		return nil
	}
	if audit.Target == "" {
		audit.Target = target
	}
	return addAuditEvent(tx, db.now(), audit)
}

// LoadConfig returns every handler and procedure, with the version they
// were read at.
func (db *DB) LoadConfig(ctx context.Context) (*model.Config, error) {
	var cfg model.Config
	err := db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		v, err := getMeta(tx, keyConfigVersion)
		if err == nil {
			cfg.Version, _ = strconv.ParseInt(v, 10, 64)
		}
		if url, err := getMeta(tx, KeyPublicURL); err == nil {
			cfg.PublicURL = url
		}
		if cfg.Aliases, err = getAliases(tx); err != nil {
			return err
		}
		if err := tx.Order("id").Find(&cfg.Handlers).Error; err != nil {
			return err
		}
		if err := tx.Order("id").Find(&cfg.CertificateProcedures).Error; err != nil {
			return err
		}
		if err := tx.Order("id").Find(&cfg.TokenProcedures).Error; err != nil {
			return err
		}
		var steps []tokenProcedureStep
		if err := tx.Order("token_procedure_id, position").Find(&steps).Error; err != nil {
			return err
		}
		for i := range cfg.TokenProcedures {
			tp := &cfg.TokenProcedures[i]
			for _, s := range steps {
				if s.TokenProcedureID == tp.ID {
					tp.CertificateProcedureIDs = append(tp.CertificateProcedureIDs, s.CertificateProcedureID)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, "Configuration")
	}
	return &cfg, nil
}

// KeyPublicURL names the setting that holds the server's public base URL.
const KeyPublicURL = "public_url"

// SetPublicURL records the base URL that issued certificates point their
// CRL and CA certificate links at; running servers reload when it changes.
func (db *DB) SetPublicURL(ctx context.Context, url string) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if old, err := getMeta(tx, KeyPublicURL); err == nil && old == url {
			return nil
		}
		if err := setMeta(tx, KeyPublicURL, url); err != nil {
			return err
		}
		return bumpConfigVersion(tx)
	}), "Setting")
}

// Seed is the first configuration of a new database.
type Seed struct {
	CertificateProcedures []model.CertificateProcedure
	TokenProcedures       []SeedTokenProcedure
	Handlers              []SeedHandler
	Users                 []model.User
}

// SeedTokenProcedure is a token procedure with its certificate procedures named.
type SeedTokenProcedure struct {
	model.TokenProcedure
	CertificateProcedures []string
}

// SeedHandler is a handler with its token procedure named ("" for none).
type SeedHandler struct {
	model.Handler
	TokenProcedure string
}

const keySeeded = "seeded"

// Seeded reports whether the database has had its first configuration.
func (db *DB) Seeded(ctx context.Context) (bool, error) {
	_, err := getMeta(db.db.WithContext(ctx), keySeeded)
	switch model.ErrorCode(err) {
	case "":
		return true, nil
	case model.ENOTFOUND:
		return false, nil
	}
	return false, err
}

// ApplySeed writes s in one transaction, unless the database was seeded
// before, in which case it returns an ECONFLICT error and changes nothing.
func (db *DB) ApplySeed(ctx context.Context, s *Seed) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if _, err := getMeta(tx, keySeeded); err == nil {
			return model.Errorf(model.ECONFLICT, "The database is already set up.")
		}
		certIDs := map[string]int64{}
		for i := range s.CertificateProcedures {
			cp := &s.CertificateProcedures[i]
			if err := tx.Create(cp).Error; err != nil {
				return err
			}
			certIDs[cp.Name] = cp.ID
		}
		tokenIDs := map[string]int64{}
		for i := range s.TokenProcedures {
			tp := &s.TokenProcedures[i]
			if err := tx.Create(&tp.TokenProcedure).Error; err != nil {
				return err
			}
			tokenIDs[tp.Name] = tp.ID
			for pos, name := range tp.CertificateProcedures {
				id, ok := certIDs[name]
				if !ok {
					return model.Errorf(model.EINVALID, "Certificate procedure %s is not defined.", quote(name))
				}
				if err := tx.Create(&tokenProcedureStep{TokenProcedureID: tp.ID, CertificateProcedureID: id, Position: pos}).Error; err != nil {
					return err
				}
			}
		}
		for i := range s.Handlers {
			h := &s.Handlers[i]
			if h.TokenProcedure != "" {
				id, ok := tokenIDs[h.TokenProcedure]
				if !ok {
					return model.Errorf(model.EINVALID, "Token procedure %s is not defined.", quote(h.TokenProcedure))
				}
				h.TokenProcedureID = &id
			}
			if err := tx.Create(&h.Handler).Error; err != nil {
				return err
			}
		}
		for i := range s.Users {
			if err := tx.Create(&s.Users[i]).Error; err != nil {
				return err
			}
		}
		if err := bumpConfigVersion(tx); err != nil {
			return err
		}
		return setMeta(tx, keySeeded, db.now().Format("2006-01-02T15:04:05Z"))
	}), "Seed data")
}
