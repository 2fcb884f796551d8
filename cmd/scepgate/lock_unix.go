//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// folderLock is the lock a server holds on its data folder.
type folderLock struct{ f *os.File }

// lockFolder takes the lock on DIR/scepgate.lock without waiting, and
// writes this process's ID into it. A second server on the same folder
// fails here, saying which process holds it. The lock ends with the
// process, however it ends.
func lockFolder(dir string) (*folderLock, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, problem("Cannot lock the data folder %s: %v.", dir, pathErr(err))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf(" (process %d)", pid)
			}
		}
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, problem("Another scepgate server%s is running on the data folder %s. Stop it first, or give this one another --data.", holder, dir)
		}
		return nil, problem("Cannot lock the data folder %s: %v.", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &folderLock{f: f}, nil
}

// release gives the lock up.
func (l *folderLock) release() {
	if l != nil {
		_ = l.f.Close()
	}
}
