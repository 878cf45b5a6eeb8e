//go:build race

package main

// The race detector slows the program 2–20×; see raceEnabled.
func init() { raceEnabled = true }
