//go:build tools

// Package tools pins the real Crossplane AWS provider (provider-upjet-aws, monolith) that the real-provider test
// tier runs against an AWS API emulator on loopback.
package tools

import (
	_ "github.com/upbound/provider-aws/v2/cmd/provider/monolith"
)
