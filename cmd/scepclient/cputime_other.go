//go:build !unix

package main

import "time"

// selfCPU is not available here; Floor falls back to wall time.
func selfCPU() (time.Duration, bool) { return 0, false }
