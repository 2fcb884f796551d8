//go:build unix

package main

import (
	"syscall"
	"time"
)

// selfCPU returns the user plus system CPU time this process has used, so
// that the floor is not inflated when other programs share the machine.
func selfCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
