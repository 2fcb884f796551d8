package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
)

// Protocol is the one router of the protocol paths: it resolves a URL, or
// one of Microsoft's NDES paths, to a handler and dispatches by the
// handler's format, to SCEP for format scep and to NDES for scep-ndes.
type Protocol struct {
	Snapshots SnapshotSource
	SCEP      *SCEP // serves handlers of format scep
	NDES      *NDES // serves handlers of format scep-ndes; nil answers them 404
}

// The protocol paths (see Resolve).
const (
	PathSCEP       = "/pgwy/scep"
	PathGateway    = "/pgwy"
	PathMSCEPAdmin = "/certsrv/mscep_admin"
	PathMSCEP      = "/certsrv/mscep/mscep.dll"
)

// ProtocolPrefixes are the paths Serve answers, each with what lies below.
var ProtocolPrefixes = []string{PathSCEP, PathGateway, PathMSCEPAdmin, PathMSCEP}

// Serve handles "GET|POST /pgwy/scep[/*]", "/pgwy/*",
// "/certsrv/mscep_admin[/*]" and "/certsrv/mscep/mscep.dll[/*]".
func (p *Protocol) Serve(c echo.Context) error {
	snap, err := p.Snapshots.Snapshot(c.Request().Context())
	if err != nil {
		return err
	}
	h, problem := Resolve(snap, c.Request().URL.Path)
	if h == nil {
		return c.String(http.StatusNotFound, problem+"\n")
	}
	switch h.Format {
	case model.HandlerNDES:
		if p.NDES != nil {
			return p.NDES.Challenge(c, snap, h)
		}
	case model.HandlerSCEP:
		return p.SCEP.ServeHandler(c, snap, h)
	}
	return c.String(http.StatusNotFound, "There is nothing at this URL.\n")
}

// Resolve finds the enabled handler that serves path, or says why none
// does:
//   - /pgwy/scep[/FILTER[/anything]]: the handler with the longest filter
//     that leads the rest of the path, else the base handler (filter "");
//   - /pgwy/FILTER[/anything]: the same without /scep/, as the reference's
//     own example URLs are written, but never the base handler;
//   - /certsrv/mscep_admin[/anything]: the NDES challenge handler the
//     mscep_admin alias names;
//   - /certsrv/mscep/mscep.dll[/anything] (such as /pkiclient.exe): the
//     SCEP handler the mscep alias names.
func Resolve(snap *enroll.Snapshot, path string) (*model.Handler, string) {
	if _, ok := under(path, PathMSCEPAdmin); ok {
		return alias(snap, snap.Config.Aliases.MSCEPAdmin, model.HandlerNDES, PathMSCEPAdmin+"/", "--mscep-admin")
	}
	if _, ok := under(path, PathMSCEP); ok {
		return alias(snap, snap.Config.Aliases.MSCEP, model.HandlerSCEP, PathMSCEP, "--mscep")
	}
	if rest, ok := under(path, PathSCEP); ok {
		if h, found := snap.Route(rest); found {
			return h, ""
		}
		return nil, "There is no enabled SCEP handler at this URL."
	}
	if rest, ok := under(path, PathGateway); ok {
		if h, found := snap.Route(rest); found && h.Filter != "" {
			return h, ""
		}
		return nil, "There is nothing at this URL. SCEP handlers live under /pgwy/scep/."
	}
	return nil, "There is nothing at this URL."
}

// under reports whether path is prefix or lies below it, and returns what
// follows prefix.
func under(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix)
	return rest, ok && (rest == "" || rest[0] == '/')
}

// alias returns the enabled handler of format that name is, or says how an
// administrator maps one.
func alias(snap *enroll.Snapshot, name, format, path, flag string) (*model.Handler, string) {
	for i := range snap.Config.Handlers {
		h := &snap.Config.Handlers[i]
		if h.Name == name && h.Enabled && h.Format == format {
			return h, ""
		}
	}
	return nil, fmt.Sprintf("No enabled handler serves %s. An administrator can map one on the Handlers page, or with: scepgate handlers alias %s NAME", path, flag)
}
