//go:build iceber

package main

// buildTags records the build tags that add engines.
const buildTags = "iceber"
