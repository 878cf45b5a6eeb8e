//go:build !unix

package main

import "os"

// terminalColumns is unknown here: $COLUMNS or 80 is used.
func terminalColumns(*os.File) int { return 0 }
