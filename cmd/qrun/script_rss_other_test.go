//go:build !unix

package main

import "os"

// peakRSS is not measured here.
func peakRSS(ps *os.ProcessState) (int64, bool) { return 0, false }
