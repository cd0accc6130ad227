//go:build linux

package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// Keeping the store in etcd, shared by hosts (docs/etcd.md): the global
// options, each with a variable beside it, as --db has $KEYCTL_GO_DB.
// Every host runs its daemon on the same cluster and prefix; clients talk
// to their own host's daemon, found by the usual rule. The data key is
// wrapped by the key file beside the store's usual path (the file named
// by --db, else the default, with ".key" appended), or by the
// passphrase: the admin gives every host the same one.
const (
	envEtcd       = "KEYCTL_GO_ETCD"          // endpoints, comma-separated
	envEtcdPrefix = "KEYCTL_GO_ETCD_PREFIX"   // the store's name in the cluster
	envEtcdCACert = "KEYCTL_GO_ETCD_CACERT"   // CA bundle to verify the cluster with
	envEtcdCert   = "KEYCTL_GO_ETCD_CERT"     // this host's client certificate
	envEtcdKey    = "KEYCTL_GO_ETCD_KEY"      // and its private key
	envEtcdUser   = "KEYCTL_GO_ETCD_USER"     // etcd auth: user name
	envEtcdPass   = "KEYCTL_GO_ETCD_PASSWORD" // and password (never an option: argv is public)
)

// etcdFlags are the global options that put the store in etcd, as given.
type etcdFlags struct {
	endpoints, prefix, cacert, cert, key string
}

// globalEtcdOption takes one global --etcd* option from args, reporting
// how many arguments it used (0: none of them).
func (a *app) globalEtcdOption(args []string) int {
	if len(args) < 2 {
		return 0
	}
	var dst *string
	switch args[0] {
	case "--etcd":
		dst = &a.etcd.endpoints
	case "--etcd-prefix":
		dst = &a.etcd.prefix
	case "--etcd-cacert":
		dst = &a.etcd.cacert
	case "--etcd-cert":
		dst = &a.etcd.cert
	case "--etcd-key":
		dst = &a.etcd.key
	default:
		return 0
	}
	*dst = args[1]
	return 2
}

// EtcdSettings are what the --etcd options and their variables say: how
// to reach the cluster, and the store's prefix in it.
type EtcdSettings struct {
	Endpoints          []string
	Prefix             string      // "" for the engine's default
	TLS                *tls.Config // nil: plain connections
	Username, Password string      // etcd's own auth, if set
}

// etcdOptions are the store's etcd settings, from the options and else
// the environment; nil if the store is a file.
func (a *app) etcdOptions() (*EtcdSettings, error) {
	pick := func(opt, env string) string {
		if opt != "" {
			return opt
		}
		return a.getenv(env)
	}
	endpoints := pick(a.etcd.endpoints, envEtcd)
	if endpoints == "" {
		return nil, nil
	}
	o := &EtcdSettings{
		Endpoints: strings.Split(endpoints, ","),
		Prefix:    pick(a.etcd.prefix, envEtcdPrefix),
		Username:  a.getenv(envEtcdUser),
		Password:  a.getenv(envEtcdPass),
	}
	cacert, cert, key := pick(a.etcd.cacert, envEtcdCACert), pick(a.etcd.cert, envEtcdCert), pick(a.etcd.key, envEtcdKey)
	if cacert == "" && cert == "" && key == "" {
		return o, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil {
			return nil, fmt.Errorf("etcd CA certificate: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd CA certificate %s: no PEM certificate in it", cacert)
		}
	}
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("--etcd-cert and --etcd-key go together")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	o.TLS = cfg
	return o, nil
}
