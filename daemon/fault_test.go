//go:build linux

package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// adders dials n clients to the daemon at socket and has each add keys
// until its connection ends. acked gets every key whose Add was
// acknowledged; the returned function waits for the clients to stop and
// fails the test if one was refused by the store rather than cut off.
func adders(t *testing.T, socket string, n int, acked chan<- keyring.Serial) (wait func()) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	refused := make(chan error, n)
	for i := range n {
		c, err := daemon.Dial(ctx, socket)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer c.Close()
			for j := 0; ; j++ {
				id, err := c.Add(ctx, "user", fmt.Sprintf("c%d-%d", i, j), []byte("acknowledged"), keyring.UserKeyring)
				if err != nil {
					var derr *daemon.Error
					if errors.As(err, &derr) {
						refused <- err
					}
					return
				}
				acked <- id
			}
		})
	}
	return func() {
		wg.Wait()
		close(refused)
		for err := range refused {
			t.Errorf("an Add was refused rather than cut off: %v", err)
		}
	}
}

// waitAcked waits until n keys have been acknowledged, so that a signal
// lands while the clients are busy writing.
func waitAcked(t *testing.T, acked chan keyring.Serial, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(acked) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d keys acknowledged after 30s", len(acked))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkAcked opens the store the daemon let go of, checks it, and looks
// for every acknowledged key in it.
func checkAcked(t *testing.T, storePath string, acked []keyring.Serial) {
	t.Helper()
	store, err := keyring.Open(storePath, keyring.Options{})
	if err != nil {
		t.Fatalf("reopening the store: %v", err)
	}
	defer store.Close()
	if err := store.Check(); err != nil {
		t.Fatalf("store damaged: %v", err)
	}
	p := store.Process(perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	for _, id := range acked {
		if data, err := p.Read(context.Background(), id); err != nil || string(data) != "acknowledged" {
			t.Fatalf("key %v acknowledged but not in the store: %q, %v", id, data, err)
		}
	}
}

// SIGTERM to a daemon process lets the calls in flight finish and closes
// the store: the process exits 0, the store's lock is free, and every
// change a client saw acknowledged is in it.
func TestSIGTERMFinishesCalls(t *testing.T) {
	dir := t.TempDir()
	storePath, socket := filepath.Join(dir, "keys.db"), filepath.Join(dir, "socket")
	d := startDaemon(t, childBinary(t), storePath, socket)

	acked := make(chan keyring.Serial, 100000)
	wait := adders(t, socket, 4, acked)
	waitAcked(t, acked, 40)
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.wait(t); err != nil {
		t.Fatalf("daemon after SIGTERM: %v; %s", err, d.stderr)
	}
	wait()
	close(acked)
	var ids []keyring.Serial
	for id := range acked {
		ids = append(ids, id)
	}
	checkAcked(t, storePath, ids)
	t.Logf("%d keys acknowledged before SIGTERM, all there", len(ids))
}

// A daemon killed with SIGKILL while clients write loses nothing it
// acknowledged: a new daemon replaces the dead one's socket, serves the
// same store, and has every key. Three times over the same store.
func TestSIGKILLKeepsAcknowledged(t *testing.T) {
	dir := t.TempDir()
	storePath, socket := filepath.Join(dir, "keys.db"), filepath.Join(dir, "socket")
	bin := childBinary(t)
	var all []keyring.Serial
	for round := range 3 {
		d := startDaemon(t, bin, storePath, socket)
		c, err := daemon.Dial(context.Background(), socket)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range all {
			if _, err := c.Describe(context.Background(), id); err != nil {
				t.Fatalf("round %d: key %v acknowledged before the last SIGKILL is gone: %v", round, id, err)
			}
		}
		c.Close()

		acked := make(chan keyring.Serial, 100000)
		wait := adders(t, socket, 4, acked)
		waitAcked(t, acked, 30)
		if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		d.wait(t)
		wait()
		close(acked)
		n := len(all)
		for id := range acked {
			all = append(all, id)
		}
		t.Logf("round %d: %d keys acknowledged before SIGKILL", round, len(all)-n)
	}
	checkAcked(t, storePath, all)
}

// Clients killed in the middle of their calls, while their watch queues
// fill, leave nothing behind: the daemon goes on serving, their watches
// and quota go, and its goroutines are back to what they were.
func TestClientsKilledMidCall(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx := context.Background()
	bystander := e.dial(t)
	// A call, so that the bystander's connection is being served, and its
	// goroutine is in the baseline, before the baseline is taken.
	if _, err := bystander.KeyringID(ctx, keyring.UserKeyring); err != nil {
		t.Fatal(err)
	}
	bin := childBinary(t)
	baseline := goleak.IgnoreCurrent()
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	for i := range 4 {
		p := startScript(t, bin, e.path, uid, gid,
			step{Op: "add", Name: "k", Type: "user", Desc: fmt.Sprintf("busy-%d", i), Payload: "v", Ring: int32(keyring.UserKeyring)},
			step{Op: "watch", Ref: "k", Tag: 1},
			// Payloads of several socket buffers' worth, so that a kill
			// lands inside a frame as often as between two.
			step{Op: "spin", Ref: "k", N: keyring.MaxUserPayload},
		)
		key := p.next("add").Serial
		p.next("watch")
		// Let it get well into its updates, then kill it mid-stream.
		time.Sleep(time.Duration(20+15*i) * time.Millisecond)
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		p.cmd.Wait()
		if _, err := bystander.Describe(ctx, keyring.Serial(key)); err != nil {
			t.Fatalf("daemon stopped serving after a client was killed: %v", err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.store.Watches(uid) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.store.Watches(uid); n != 0 {
		t.Fatalf("Watches(%d) = %d after the clients were killed", uid, n)
	}
	verifyGoroutines(t, baseline)
}

// A small tmpfs that the store fills: the daemon refuses the writes that
// do not fit with ENOSPC, goes on serving reads and other clients, and
// takes writes again once there is room; the store is whole throughout.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to mount a small tmpfs to fill")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): run as root where mount(2) is allowed to test a full disk", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	storePath := filepath.Join(dir, "keys.db")
	store, err := keyring.Open(storePath, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(t.TempDir(), "socket") // off the full disk: the socket is not the test
	srv, err := daemon.Listen(socket, store, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		srv.Close()
		<-served
		return store.Close()
	}
	defer stop()
	ctx := context.Background()
	writer, err := daemon.Dial(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := daemon.Dial(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	first, err := writer.Add(ctx, "user", "before", []byte("acknowledged"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	acked := []keyring.Serial{first}

	// Fill what is left of the disk.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(block); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	for len(block) > 1 { // and the last few pages
		if _, err := filler.Write(block); err != nil {
			block = block[:len(block)/2]
		}
	}
	filler.Close()

	// Writes go on until one does not fit; that one gets ENOSPC.
	payload := make([]byte, keyring.MaxUserPayload)
	var full error
	for i := 0; i < 200 && full == nil; i++ {
		var id keyring.Serial
		id, full = writer.Add(ctx, "user", fmt.Sprintf("filling-%d", i), payload, keyring.UserKeyring)
		if full == nil {
			acked = append(acked, id)
		}
	}
	if !errors.Is(full, unix.ENOSPC) {
		t.Fatalf("Add on a full disk: %v, want an error that is ENOSPC", full)
	}
	t.Logf("on a full disk: %v", full)
	if data, err := reader.Read(ctx, first); err != nil || string(data) != "acknowledged" {
		t.Fatalf("a read while the disk is full: %q, %v", data, err)
	}
	if _, err := writer.Describe(ctx, first); err != nil {
		t.Fatalf("the writer's connection after ENOSPC: %v", err)
	}
	if err := store.Check(); err != nil {
		t.Fatalf("store damaged by the full disk: %v", err)
	}

	// Room again: writes go through.
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	id, err := writer.Add(ctx, "user", "after", []byte("acknowledged"), keyring.UserKeyring)
	if err != nil {
		t.Fatalf("Add once there is room again: %v", err)
	}
	acked = append(acked, id)
	if err := stop(); err != nil {
		t.Fatalf("closing the store after a full disk: %v", err)
	}
	reopened, err := keyring.Open(storePath, keyring.Options{})
	if err != nil {
		t.Fatalf("reopening the store: %v", err)
	}
	defer reopened.Close()
	if err := reopened.Check(); err != nil {
		t.Fatalf("store damaged: %v", err)
	}
	p := reopened.Process(perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	for _, id := range acked {
		if _, err := p.Describe(ctx, id); err != nil {
			t.Fatalf("key %v acknowledged is gone: %v", id, err)
		}
	}
}

// verifyGoroutines fails the test if goroutines other than baseline's
// are still running once the daemon has had ten seconds to tear down the
// connections that ended: the teardown (releasing a process may commit)
// runs after the client has gone, and on a loaded machine can take longer
// than goleak's own retries wait.
func verifyGoroutines(t *testing.T, baseline goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for goleak.Find(baseline) != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	goleak.VerifyNone(t, baseline)
}
