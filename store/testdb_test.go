package store_test

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver for database/sql
)

// testDSN returns where a test's database lives: a new SQLite file in
// t.TempDir(); or, when SCEPGATE_TEST_POSTGRES holds the URL of a
// PostgreSQL server's maintenance database, a new database created there
// for the test and dropped after it. `make test` runs this package both
// ways, so SQLite and PostgreSQL pass the same suite.
func testDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("SCEPGATE_TEST_POSTGRES")
	if admin == "" {
		return filepath.Join(t.TempDir(), "scepgate.db")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("SCEPGATE_TEST_POSTGRES: %v", err)
	}
	conn, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	name := fmt.Sprintf("scepgate_test_%d", time.Now().UnixNano())
	if _, err := conn.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		c, err := sql.Open("pgx", admin)
		if err == nil {
			_, _ = c.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			_ = c.Close()
		}
	})
	u.Path = "/" + name
	return u.String()
}
