// Package configs holds what herald ships besides code: the default message
// templates per language (and the example configuration beside them).
package configs

import (
	"embed"
	"io/fs"
)

// Templates holds templates/<lang>/<kind>.<channel>.tmpl and
// templates/layout.email.html, the built-in message templates that
// render.New loads; an operator's folder may override any of them. Their
// words (labels, footers, greetings) are in the catalogue of package locale.
//
//go:embed templates
var Templates embed.FS

// TemplatesFS returns Templates rooted at the templates folder, the layout
// render.New expects (the same as an override folder's).
func TemplatesFS() fs.FS {
	sub, err := fs.Sub(Templates, "templates")
	if err != nil { // cannot happen: the folder is embedded above
		panic("configs: " + err.Error())
	}
	return sub
}
