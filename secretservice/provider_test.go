//go:build linux

package secretservice_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/secrets"
	"github.com/keyctl-go/keyctl-go/secretservice"
)

// client connects to the env's bus as the test's own uid.
func (e *env) client(t testing.TB) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(e.bus.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func obj(conn *dbus.Conn, path string) dbus.BusObject {
	return conn.Object(secretservice.BusName, dbus.ObjectPath(path))
}

// errName is a D-Bus error's name, "" for none.
func errName(err error) string {
	var e dbus.Error
	if errors.As(err, &e) {
		return e.Name
	}
	if err != nil {
		return "not a D-Bus error: " + err.Error()
	}
	return ""
}

// signals subscribes conn to the provider's signals.
func signals(t testing.TB, conn *dbus.Conn) chan *dbus.Signal {
	t.Helper()
	if err := conn.AddMatchSignal(dbus.WithMatchPathNamespace("/org/freedesktop/secrets")); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *dbus.Signal, 64)
	conn.Signal(ch)
	return ch
}

// next returns the next signal that is not PropertiesChanged, as
// "Member path-arg".
func next(t testing.TB, ch chan *dbus.Signal) string {
	t.Helper()
	for {
		select {
		case s := <-ch:
			if strings.HasSuffix(s.Name, ".PropertiesChanged") || !strings.HasPrefix(s.Name, "org.freedesktop.Secret.") {
				continue
			}
			arg := ""
			if len(s.Body) > 0 {
				if p, ok := s.Body[0].(dbus.ObjectPath); ok {
					arg = string(p)
				}
			}
			return s.Name[strings.LastIndexByte(s.Name, '.')+1:] + " " + arg
		case <-time.After(5 * time.Second):
			t.Fatal("no signal in 5 s")
			return ""
		}
	}
}

// secretValue is the API's Secret, (oayays).
type secretValue struct {
	Session     dbus.ObjectPath
	Params      []byte
	Value       []byte
	ContentType string
}

// A change made beside D-Bus, by a program using package secrets on the
// same store, is signalled as one made over D-Bus is.
func TestStoreChangesAreSignalled(t *testing.T) {
	e := newEnv(t)
	conn := e.client(t)
	ch := signals(t, conn)
	ctx := context.Background()
	p := e.store.Process(self())
	defer p.Release(ctx)
	other := secrets.New(p, secrets.Options{})
	const login = "/org/freedesktop/secrets/collection/login"
	for _, step := range []struct {
		do   func() error
		want string
	}{
		{func() error { return other.Set(ctx, "login", "from-go", []byte("1")) }, "ItemCreated " + login + "/from_2dgo"},
		{func() error { return other.Set(ctx, "login", "from-go", []byte("2")) }, "ItemChanged " + login + "/from_2dgo"},
		{func() error { return other.Delete(ctx, "login", "from-go") }, "ItemDeleted " + login + "/from_2dgo"},
		{func() error { return other.CreateService(ctx, "work") }, "CollectionCreated /org/freedesktop/secrets/collection/work"},
		{func() error { return other.DeleteService(ctx, "work") }, "CollectionDeleted /org/freedesktop/secrets/collection/work"},
	} {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		if got := next(t, ch); got != step.want {
			t.Errorf("signal %q, want %q", got, step.want)
		}
	}
}

// What is stored survives the provider and the store being stopped and
// started again.
func TestPersistsAcrossRestart(t *testing.T) {
	need(t, "secret-tool", "libsecret-tools")
	e := newEnv(t)
	if _, errs, code := e.run(t, "kept", "secret-tool", "store", "--label=kept", "k", "v"); code != 0 {
		t.Fatalf("store: %d %s", code, errs)
	}
	e.stop(t)
	if out, _, code := e.run(t, "", "secret-tool", "lookup", "k", "v"); code == 0 || out != "" {
		t.Fatalf("with the provider stopped, lookup: exit %d, %q", code, out)
	}
	e.open(t)
	if out, errs, code := e.run(t, "", "secret-tool", "lookup", "k", "v"); code != 0 || out != "kept" {
		t.Errorf("after a restart, lookup: exit %d, %q %q", code, out, errs)
	}
}

// Aliases, collections and properties as the API defines them, and the
// errors it names for what is not there or not allowed.
func TestAPI(t *testing.T) {
	e := newEnv(t)
	conn := e.client(t)
	svc := obj(conn, "/org/freedesktop/secrets")

	var coll dbus.ObjectPath
	if err := svc.Call("org.freedesktop.Secret.Service.ReadAlias", 0, "default").Store(&coll); err != nil || coll != "/org/freedesktop/secrets/collection/login" {
		t.Fatalf("ReadAlias default: %v, %v", coll, err)
	}
	if err := svc.Call("org.freedesktop.Secret.Service.ReadAlias", 0, "nothing").Store(&coll); err != nil || coll != "/" {
		t.Errorf("ReadAlias of no alias: %v, %v", coll, err)
	}
	var prompt dbus.ObjectPath
	err := svc.Call("org.freedesktop.Secret.Service.CreateCollection", 0, map[string]dbus.Variant{"org.freedesktop.Secret.Collection.Label": dbus.MakeVariant("Work stuff")}, "work").Store(&coll, &prompt)
	if err != nil || coll != "/org/freedesktop/secrets/collection/Work_20stuff" || prompt != "/" {
		t.Fatalf("CreateCollection: %v %v, %v", coll, prompt, err)
	}
	v, err := obj(conn, "/org/freedesktop/secrets").GetProperty("org.freedesktop.Secret.Service.Collections")
	if paths, _ := v.Value().([]dbus.ObjectPath); err != nil || !slices.Equal(paths, []dbus.ObjectPath{"/org/freedesktop/secrets/collection/login", coll}) {
		t.Errorf("Collections: %v, %v", v, err)
	}
	// The alias path names the collection too.
	if v, err := obj(conn, "/org/freedesktop/secrets/aliases/work").GetProperty("org.freedesktop.Secret.Collection.Label"); err != nil || v.Value() != "Work stuff" {
		t.Errorf("Label through the alias: %v, %v", v, err)
	}

	var out dbus.Variant
	var session dbus.ObjectPath
	if err := svc.Call("org.freedesktop.Secret.Service.OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&out, &session); err != nil {
		t.Fatal(err)
	}
	secret := secretValue{session, []byte{}, []byte("pw"), "text/plain"}
	props := map[string]dbus.Variant{
		"org.freedesktop.Secret.Item.Label":      dbus.MakeVariant("an item"),
		"org.freedesktop.Secret.Item.Attributes": dbus.MakeVariant(map[string]string{"a": "1"}),
	}
	var item dbus.ObjectPath
	if err := obj(conn, "/org/freedesktop/secrets/aliases/work").Call("org.freedesktop.Secret.Collection.CreateItem", 0, props, secret, true).Store(&item, &prompt); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(item), string(coll)+"/") {
		t.Errorf("item %s is not in %s", item, coll)
	}
	if items, _ := e.st.List(context.Background(), "Work stuff"); len(items) != 1 || items[0].Label != "an item" {
		t.Errorf("the store's Work stuff: %+v", items)
	}

	for _, tc := range []struct {
		name string
		call *dbus.Call
		want string
	}{
		{"unknown algorithm", svc.Call("org.freedesktop.Secret.Service.OpenSession", 0, "rot13", dbus.MakeVariant("")), "org.freedesktop.DBus.Error.NotSupported"},
		{"DH key 1", svc.Call("org.freedesktop.Secret.Service.OpenSession", 0, "dh-ietf1024-sha256-aes128-cbc-pkcs7", dbus.MakeVariant([]byte{1})), "org.freedesktop.DBus.Error.InvalidArgs"},
		{"DH input not bytes", svc.Call("org.freedesktop.Secret.Service.OpenSession", 0, "dh-ietf1024-sha256-aes128-cbc-pkcs7", dbus.MakeVariant("x")), "org.freedesktop.DBus.Error.InvalidArgs"},
		{"wrong signature", svc.Call("org.freedesktop.Secret.Service.ReadAlias", 0, 7), "org.freedesktop.DBus.Error.InvalidArgs"},
		{"no such item", obj(conn, string(coll)+"/nothing").Call("org.freedesktop.Secret.Item.GetSecret", 0, session), "org.freedesktop.Secret.Error.NoSuchObject"},
		{"property of no item", obj(conn, string(coll)+"/nothing").Call("org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.Secret.Item", "Label"), "org.freedesktop.DBus.Error.UnknownMethod"},
		{"no such session", obj(conn, string(item)).Call("org.freedesktop.Secret.Item.GetSecret", 0, dbus.ObjectPath("/org/freedesktop/secrets/session/s999")), "org.freedesktop.Secret.Error.NoSession"},
		{"read-only property", obj(conn, string(item)).Call("org.freedesktop.DBus.Properties.Set", 0, "org.freedesktop.Secret.Item", "Created", dbus.MakeVariant(uint64(1))), "org.freedesktop.DBus.Error.PropertyReadOnly"},
		{"no such method", svc.Call("org.freedesktop.Secret.Service.Frobnicate", 0), "org.freedesktop.DBus.Error.UnknownMethod"},
		{"unknown alias", obj(conn, "/org/freedesktop/secrets/aliases/nothing").Call("org.freedesktop.Secret.Collection.SearchItems", 0, map[string]string{}), "org.freedesktop.Secret.Error.NoSuchObject"},
	} {
		if got := errName(tc.call.Err); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}

	// A session is its opener's: another connection of the same user may
	// not use it to read.
	other := e.client(t)
	if err := obj(other, string(item)).Call("org.freedesktop.Secret.Item.GetSecret", 0, session).Err; errName(err) != "org.freedesktop.Secret.Error.NoSession" {
		t.Errorf("another connection's session: %v", err)
	}
	var got secretValue
	if err := obj(conn, string(item)).Call("org.freedesktop.Secret.Item.GetSecret", 0, session).Store(&got); err != nil || string(got.Value) != "pw" {
		t.Errorf("GetSecret in the opener's session: %q, %v", got.Value, err)
	}

	// Lock and Unlock answer for what exists, and lock only that.
	var done []dbus.ObjectPath
	if err := svc.Call("org.freedesktop.Secret.Service.Lock", 0, []dbus.ObjectPath{dbus.ObjectPath(string(coll) + "/nothing"), "/org/freedesktop/secrets/collection/nothing"}).Store(&done, &prompt); err != nil || len(done) != 0 {
		t.Errorf("Lock of what does not exist: %v, %v", done, err)
	}
	if v, _ := obj(conn, string(coll)).GetProperty("org.freedesktop.Secret.Collection.Locked"); v.Value() != false {
		t.Errorf("a Lock of a missing item locked its collection")
	}
	if err := svc.Call("org.freedesktop.Secret.Service.Lock", 0, []dbus.ObjectPath{item}).Store(&done, &prompt); err != nil || len(done) != 1 || prompt != "/" {
		t.Errorf("Lock of the item: %v %v, %v", done, prompt, err)
	}
	if err := obj(conn, string(item)).Call("org.freedesktop.Secret.Item.GetSecret", 0, session).Err; errName(err) != "org.freedesktop.Secret.Error.IsLocked" {
		t.Errorf("GetSecret while locked: %v", err)
	}
	if err := svc.Call("org.freedesktop.Secret.Service.Unlock", 0, []dbus.ObjectPath{coll}).Store(&done, &prompt); err != nil || len(done) != 1 || prompt != "/" {
		t.Errorf("Unlock: %v %v, %v", done, prompt, err)
	}

	var xml string
	if err := obj(conn, string(item)).Call("org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&xml); err != nil || !strings.Contains(xml, `<method name="GetSecret">`) || !strings.Contains(xml, `<arg type="(oayays)" direction="out"/>`) {
		t.Errorf("Introspect: %v\n%s", err, xml)
	}

	if err := obj(conn, string(coll)).Call("org.freedesktop.Secret.Collection.Delete", 0).Store(&prompt); err != nil {
		t.Fatal(err)
	}
	if svcs, _ := e.st.Services(context.Background()); slices.Contains(svcs, "Work stuff") {
		t.Errorf("the collection's service outlived Delete: %q", svcs)
	}
}

// The provider gives up when another already owns the name.
func TestNameTaken(t *testing.T) {
	e := newEnv(t)
	store, err := keyring.Open(t.TempDir()+"/other.db", keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p := store.Process(self())
	defer p.Release(context.Background())
	_, err = secretservice.Connect(context.Background(), e.bus.Address, secrets.New(p, secrets.Options{}), secretservice.Options{Owner: e.owner})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("a second provider on the bus: %v", err)
	}
}
