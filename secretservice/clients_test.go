//go:build linux

package secretservice_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	gokeyring "github.com/zalando/go-keyring"
)

// python-keyring with its SecretService backend forced: set, get,
// replace, get_credential, delete. It calls Unlock before every use.
func TestPythonKeyring(t *testing.T) {
	python := pythonWith(t, "keyring.backends.SecretService, secretstorage", "python3-keyring")
	e := newEnv(t)
	out, errs, code := e.run(t, "", python, "testdata/keyring_client.py")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	want := []string{"keyring.backends.SecretService", "pw-1", "pw-2", "alice", "None", "pw-bob"}
	if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// What python-keyring stored is a secret of the store's, with the
	// attributes it gave.
	items, err := e.st.Find(context.Background(), "login", map[string]string{"service": "keyring-test", "username": "bob"})
	if err != nil || len(items) != 1 {
		t.Fatalf("bob's item in the store: %v, %v", items, err)
	}
	if got, _ := e.st.Get(context.Background(), "login", items[0].Account); string(got) != "pw-bob" {
		t.Errorf("the store holds %q", got)
	}
}

// zalando/go-keyring, the Go programs' keyring, in a child process: its
// session bus connection is process-wide.
func TestGoKeyring(t *testing.T) {
	e := newEnv(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(e.clientEnv(), childEnv+"=go-keyring")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "set\nget pw-1\nget pw-2\ndelete\nget after delete: secret not found in keyring\ndelete all\n"
	if string(out) != want {
		t.Errorf("go-keyring said\n%s\nwant\n%s", out, want)
	}
	if items, _ := e.st.List(context.Background(), "login"); len(items) != 0 {
		t.Errorf("the store still holds %d items", len(items))
	}
}

// goKeyringChild is the child's side of TestGoKeyring.
func goKeyringChild() int {
	step := func(what string, err error) bool {
		if err != nil {
			fmt.Printf("%s: %v\n", what, err)
			return false
		}
		fmt.Println(what)
		return true
	}
	if !step("set", gokeyring.Set("go-keyring-test", "alice", "pw-1")) {
		return 1
	}
	got, err := gokeyring.Get("go-keyring-test", "alice")
	if !step("get "+got, err) {
		return 1
	}
	gokeyring.Set("go-keyring-test", "alice", "pw-2")
	got, err = gokeyring.Get("go-keyring-test", "alice")
	if !step("get "+got, err) {
		return 1
	}
	if !step("delete", gokeyring.Delete("go-keyring-test", "alice")) {
		return 1
	}
	_, err = gokeyring.Get("go-keyring-test", "alice")
	fmt.Printf("get after delete: %v\n", err)
	gokeyring.Set("go-keyring-test", "bob", "b")
	gokeyring.Set("go-keyring-test", "carol", "c")
	if !step("delete all", gokeyring.DeleteAll("go-keyring-test")) {
		return 1
	}
	return 0
}
