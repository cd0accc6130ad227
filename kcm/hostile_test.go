//go:build linux

package kcm_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/childtest"
	"github.com/keyctl-go/keyctl-go/kcm"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// hostileChild carries the daemon's socket to the child that
// TestHostileUIDCannotGrowKCMKeys runs as uid 1000.
const hostileChild = "KCM_TEST_HOSTILE_DAEMON"

// TestHostileUIDCannotGrowKCMKeys: the KCM server's keys are charged to
// nobody, but a user who reaches them through the keyctl daemon, in
// whose processes everything is charged, pays for what it writes: uid
// 1000, a real process, cannot grow its TGT's key past its kernel quota,
// and the refused write changes nothing klist shows.
func TestHostileUIDCannotGrowKCMKeys(t *testing.T) {
	if sock := os.Getenv(hostileChild); sock != "" {
		hostileMain(sock)
		return
	}
	needRoot(t)
	e := newEnv(t, kcm.Options{})
	dsock := filepath.Join(e.dir, "daemon.sock")
	dsrv, err := daemon.Listen(dsock, e.store, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go dsrv.Serve()
	defer dsrv.Close()
	e.kinit(&uid1000, "alice")
	before := e.runAs(&uid1000, "klist")

	bin := childtest.CopyBinary(t, "kcm.test")
	cmd := exec.Command(bin, "-test.run=^TestHostileUIDCannotGrowKCMKeys$")
	cmd.Env = append(os.Environ(), hostileChild+"="+dsock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid1000.UID, Gid: uid1000.GID}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child as uid 1000: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "grow: refused EDQUOT") {
		t.Fatalf("uid 1000 grew an uncharged KCM key:\n%s", out.String())
	}
	if after := e.runAs(&uid1000, "klist"); after != before {
		t.Fatalf("klist as uid 1000 before:\n%s\nafter the refused write:\n%s", before, after)
	}
}

// hostileMain runs as uid 1000: it finds its TGT's key in its KCM cache
// through the daemon, as keyctl-go krb5 would, and tries to write 30,000
// bytes into it, more than the kernel's 20,000-byte quota.
func hostileMain(sock string) {
	fail := func(step string, err error) {
		fmt.Println(step+":", err)
		os.Exit(1)
	}
	c, err := daemon.Dial(ctx, sock)
	if err != nil {
		fail("dial", err)
	}
	defer c.Close()
	pk, err := c.GetPersistent(ctx, keyring.OwnUID, keyring.ProcessKeyring)
	if err != nil {
		fail("persistent", err)
	}
	col, err := c.Search(ctx, pk, "keyring", "_krb", keyring.ProcessKeyring)
	if err != nil {
		fail("collection", err)
	}
	cache, err := c.Search(ctx, col, "keyring", "1000", 0)
	if err != nil {
		fail("cache", err)
	}
	const tgt = "krbtgt/TEST.LOCAL@TEST.LOCAL"
	if _, err := c.Search(ctx, cache, "user", tgt, 0); err != nil {
		fail("TGT key", err)
	}
	_, err = c.Add(ctx, "user", tgt, bytes.Repeat([]byte("x"), 30000), cache)
	switch {
	case errors.Is(err, unix.EDQUOT):
		fmt.Println("grow: refused EDQUOT")
	case err == nil:
		fmt.Println("grow: accepted")
	default:
		fmt.Println("grow:", err)
	}
	os.Exit(0)
}
