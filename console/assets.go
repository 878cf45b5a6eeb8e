package console

import "net/http"

// httpFS serves the embedded assets (console.css, console.js).
func httpFS() http.FileSystem { return http.FS(assets()) }
