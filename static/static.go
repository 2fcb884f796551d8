// Package static embeds the portal's CSS, scripts and images.
package static

import "embed"

// FS holds the files served under /static/. htmx-VERSION.min.js is htmx
// (0BSD licence) as published on npm, unchanged; portal.js holds the
// portal's own progressive enhancements.
//
//go:embed *.css *.js
var FS embed.FS
