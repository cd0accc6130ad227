//go:build linux

// Command keyctl-go is a drop-in for keyutils 1.6.3's keyctl that acts on a
// keyctl-go store instead of the kernel: the same commands, arguments,
// output, messages and exit codes, and keyctl-go's own (daemon, krb5,
// fsck). `keyctl-go --help` lists them; docs/cli.md says where it differs
// from keyctl. The command line itself is package cmd/internal/cli.
//
// This program links no etcd client; given the --etcd options, it hands
// itself over to keyctl-go-etcd, which does.
package main

import (
	"os"

	"github.com/keyctl-go/keyctl-go/cmd/internal/cli"
)

func main() { os.Exit(cli.Main(cli.Config{})) }
