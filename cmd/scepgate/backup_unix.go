//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/scepgate/scepgate/model"
)

// holdDataFolder takes DIR/scepgate.lock, the lock a running server holds
// on its data folder, without waiting, so that restore refuses while a
// server runs and no server starts while it works. It creates the file when
// it is missing: then nobody held it. release gives the lock up.
func holdDataFolder(dir string) (release func(), err error) {
	path := filepath.Join(dir, "scepgate.lock")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the data folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, model.Errorf(model.ECONFLICT, "A scepgate server is running on the data folder %s (it holds %s). Stop it, then run restore again.", dir, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { _ = f.Close() }, nil
}
