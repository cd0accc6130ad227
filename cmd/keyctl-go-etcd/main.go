//go:build linux

// Command keyctl-go-etcd is keyctl-go with etcd's client linked in: it
// serves the --etcd options (docs/etcd.md), which keyctl-go hands over to
// it, so that keyctl-go's every command does not pay for the client's
// start-up. Install it beside keyctl-go.
package main

import (
	"os"

	"github.com/keyctl-go/keyctl-go/cmd/internal/cli"
	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/keystore/etcdstore"
)

func main() {
	os.Exit(cli.Main(cli.Config{EtcdEngine: engine}))
}

// engine is the etcd engine for the settings the --etcd options gave.
func engine(s cli.EtcdSettings) func(keystore.Feed) (keystore.Engine, error) {
	o := etcdstore.Options{Endpoints: s.Endpoints, Prefix: s.Prefix, TLS: s.TLS, Username: s.Username, Password: s.Password}
	return o.Open
}
