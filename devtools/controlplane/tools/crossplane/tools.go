//go:build tools

// Package tools pins the Crossplane CLI (crank) the composition tests build, for `crossplane render`.
package tools

import (
	_ "github.com/crossplane/crossplane/v2/cmd/crank"
)
