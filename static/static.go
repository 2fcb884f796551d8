// Package static embeds the portal's CSS, scripts and images.
package static

import "embed"

// FS holds the files served under /static/.
//
//go:embed *.css
var FS embed.FS
