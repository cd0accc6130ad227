//go:build linux

package secretservice_test

import (
	"context"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/keyctl-go/keyctl-go/secrets"
	"github.com/keyctl-go/keyctl-go/secretservice"
)

// BenchmarkSecretServiceGetSecret is a godbus client calling
// Item.GetSecret over a private bus, in a plain session: the bus's two
// hops, the caller's uid from the cache, the store's lookup and read.
func BenchmarkSecretServiceGetSecret(b *testing.B) {
	e := newEnv(b)
	if err := e.st.Put(context.Background(), secrets.Item{Service: "login", Account: "bench", Secret: []byte("a password of some twenty-odd bytes")}); err != nil {
		b.Fatal(err)
	}
	conn := e.client(b)
	var out dbus.Variant
	var session dbus.ObjectPath
	if err := obj(conn, "/org/freedesktop/secrets").Call("org.freedesktop.Secret.Service.OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&out, &session); err != nil {
		b.Fatal(err)
	}
	item := obj(conn, "/org/freedesktop/secrets/collection/login/bench")
	var got secretValue
	b.ReportAllocs()
	for b.Loop() {
		if err := item.Call("org.freedesktop.Secret.Item.GetSecret", 0, session).Store(&got); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDBusPingBaseline is the same round trip with nothing behind
// it: org.freedesktop.DBus.Peer.Ping to the provider's connection on the
// same bus, which godbus answers itself.
func BenchmarkDBusPingBaseline(b *testing.B) {
	e := newEnv(b)
	conn := e.client(b)
	svc := conn.Object(secretservice.BusName, "/org/freedesktop/secrets")
	b.ReportAllocs()
	for b.Loop() {
		if err := svc.Call("org.freedesktop.DBus.Peer.Ping", 0).Err; err != nil {
			b.Fatal(err)
		}
	}
}
