//go:build !unix

package main

// folderLock does nothing where flock(2) is missing: two servers on one
// data folder are not detected there.
type folderLock struct{}

func lockFolder(string) (*folderLock, error) { return &folderLock{}, nil }

func (*folderLock) release() {}
