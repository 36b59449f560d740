//go:build !iceber

package main

// buildTags records the build tags that add engines (see tags_iceber.go).
const buildTags = ""
