//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/cmd/internal/watchfd"
	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/clib"
	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Tags of the watches on a watch_session's queue, as keyctl gives them:
// the session keyring's watch is 1 and its removal ends the watcher;
// watch_add's are 2. syncTag is keyctl-go's own, for the marker that
// watch_sync waits for; its records are never logged.
const (
	sessionWatchTag = watchTag // 1
	addedWatchTag   = 2
	syncTag         = 255
)

// cmdWatchSession is `watch_session [-f<filters>] [-n <name>] <notifylog>
// <gclog> <fd> <prog> [<arg>...]`: join a new session keyring (or the
// named one), watch it, and run prog in it with the watch queue as fd
// <fd> (3..9, also in $KEYCTL_WATCH_FD), logging every change keyctl's
// way: key changes and "-- LOSS --" appended to notifylog, removals
// ("<id> gc") to gclog. Commands run below prog add and remove watches on
// the same queue with `watch_add <fd> <key>` and `watch_rm <fd> <key>`,
// and wait for the log to catch up with `watch_sync <fd>`.
//
// Where keyctl-go differs from keyctl, and why:
//
//   - The queue is the watcher's daemon connection, not a pipe: fd <fd> is
//     a socket to the watcher (package cmd/internal/watchfd), which sets and removes
//     watches for the commands that write to it. Only processes of the
//     watcher's uid may use it (EACCES otherwise), and @t and @p in
//     watch_add are resolved by the command but watched by the watcher.
//   - The watcher is a goroutine of this process rather than a forked
//     child, and this process waits for prog instead of exec'ing it,
//     because the session is handed down by serial ($KEYCTL_GO_SESSION)
//     and pinned while prog runs, as for `session`.
//   - When prog exits, the watcher first logs everything already posted
//     (keyctl's is killed at once and may miss the last records), then
//     writes "Monitoring terminated" to both logs, as keyctl's does on
//     SIGTERM. SIGINT or SIGTERM to keyctl-go is passed on to prog.
//
// As in keyctl: the removal of the session's own watch (the session
// keyring destroyed, or `watch_rm <fd> @s`) ends the watcher, and prog is
// then sent SIGTERM; the exit status is the watcher's if it failed, else
// prog's (128+signal if a signal ended it).
func cmdWatchSession(ctx context.Context, a *app, args []string) error {
	opts, args, err := getopt(a, "watch_session", args, "+df:n:")
	if err != nil {
		return err
	}
	var filter keyFilter
	name := ""
	for _, o := range opts {
		switch o.name {
		case 'f':
			if err := filter.parse(o.arg); err != nil {
				return err
			}
		case 'n':
			name = o.arg
		case 'd':
			// keyctl's debug output of raw records; nothing to show here.
		}
	}
	if len(args) < 4 {
		return errUsage
	}
	notifyPath, gcPath, prog := args[0], args[1], args[3:]
	tfd := int(clib.Atoi(args[2]))
	if tfd < 3 || tfd > 9 {
		return &exitError{code: 2, msg: "The target fd must be between 3 and 9"}
	}

	// The queue: a connection of the watcher's own to the store's daemon.
	if err := a.ensureDaemon(ctx); err != nil {
		return opError("pipe2", err)
	}
	c, _, err := keyctl.DialDaemon(ctx, a.discovery())
	if err != nil {
		return opError("pipe2", err)
	}
	defer c.Close()

	notifyLog, err := openLog(notifyPath)
	if err != nil {
		return err
	}
	defer notifyLog.Close()
	gcLog, err := openLog(gcPath)
	if err != nil {
		return err
	}
	defer gcLog.Close()

	w := &sessionWatcher{c: c, notify: notifyLog, gc: gcLog, stderr: a.stderr, filter: filter, done: make(chan struct{})}
	if err := w.prepareSync(ctx); err != nil {
		return opError("keyctl_watch_key", err)
	}
	consumerCtx, stopConsumer := context.WithCancel(context.WithoutCancel(ctx))
	go w.consume(consumerCtx)
	// However this ends, the consumer is done before its logs close.
	defer func() { stopConsumer(); <-w.done }()

	if _, err := c.JoinSession(ctx, name); err != nil {
		return opError("keyctl_join_session_keyring", err)
	}
	session, err := c.PinSession(ctx)
	if err != nil {
		return opError("keyctl_join_session_keyring", err)
	}
	defer c.UnpinSession(context.WithoutCancel(ctx), session)
	if err := c.Watch(ctx, session, sessionWatchTag); err != nil {
		return opError("keyctl_watch_key/session", err)
	}
	fmt.Fprintf(a.stderr, "Joined session keyring: %d\n", session)

	srv, childEnd, err := watchfd.New(w.request)
	if err != nil {
		return err
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(consumerCtx) }()
	defer func() { srv.Close(); <-served }()

	extra := make([]*os.File, tfd-2)
	extra[tfd-3] = childEnd
	cmd, err := a.startChild(prog, session, extra, watchfd.Env+"="+strconv.Itoa(tfd))
	childEnd.Close() // prog has its copy
	if err != nil {
		return err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var waitErr error
	select {
	case waitErr = <-waited:
	case <-w.done:
		// The session's watch is gone: keyctl's watcher exits and its
		// parent sends prog SIGTERM.
		cmd.Process.Signal(syscall.SIGTERM)
		waitErr = <-waited
	case <-ctx.Done():
		cmd.Process.Signal(syscall.SIGTERM)
		waitErr = <-waited
	}
	code := exitStatus(waitErr)

	select {
	case <-w.done:
	default:
		// Catch up with what prog's changes posted, then stop.
		w.sync(context.WithoutCancel(ctx))
		stopConsumer()
		<-w.done
		w.terminated()
	}
	if w.code != 0 {
		code = w.code
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// openLog opens a log for appending, as keyctl's fopen(name, "a"): made if
// missing, never truncated, and not handed to prog.
func openLog(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		return nil, &exitError{code: 1, msg: name + ": " + strerror(err)}
	}
	return f, nil
}

// keyFilter is keyctl's -f<letters>: which key notification subtypes to
// keep. Meta records (removal, loss) always pass, as in the kernel.
type keyFilter struct {
	only     [8]bool
	filtered bool
}

func (f *keyFilter) parse(letters string) error {
	f.filtered = true
	for _, c := range []byte(letters) {
		i := strings.IndexByte(watchFilterLetters, c)
		if i < 0 {
			return &exitError{code: 2, msg: fmt.Sprintf("Unknown filter character '%c'", c)}
		}
		f.only[i] = true
	}
	return nil
}

// sessionWatcher is watch_session's consumer: it reads the connection's
// records and appends keyctl's lines to the logs.
type sessionWatcher struct {
	c          *daemon.Client
	notify, gc *os.File
	stderr     io.Writer
	filter     keyFilter
	done       chan struct{} // closed when consume returns
	code       int           // the consumer's exit status, read after done
	syncRing   keyring.Serial
	syncMu     sync.Mutex // one sync at a time, so that the marker read is the one awaited

	mu        sync.Mutex    // guards the fields below
	syncWake  chan struct{} // while a sync waits: closed by its marker or a loss
	syncWant  uint32        // the marker's serial, once Add has returned it
	syncEarly []uint32      // markers read before Add returned
	syncHit   bool          // the marker, not a loss, closed syncWake
	syncSeq   int
}

// prepareSync watches the connection's own thread keyring with syncTag.
// A sync adds a new key to it: the LINKED record that follows is the
// marker, queued behind everything posted before it.
func (w *sessionWatcher) prepareSync(ctx context.Context) error {
	id, err := w.c.GetKeyringID(ctx, keyring.ThreadKeyring, true)
	if err != nil {
		return err
	}
	w.syncRing = id
	return w.c.Watch(ctx, id, syncTag)
}

// sync returns once every record posted before it was called is logged
// (keyctl's watch_sync waits for the pipe to be empty), or the watcher
// has stopped.
func (w *sessionWatcher) sync(ctx context.Context) error {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	for {
		wake := make(chan struct{})
		w.mu.Lock()
		w.syncSeq++
		desc := "watch_sync." + strconv.Itoa(w.syncSeq)
		w.syncWake, w.syncWant, w.syncEarly, w.syncHit = wake, 0, nil, false
		w.mu.Unlock()
		id, err := w.c.Add(ctx, "user", desc, []byte{1}, w.syncRing) // user keys need a payload
		if err != nil {
			w.mu.Lock()
			w.syncWake = nil
			w.mu.Unlock()
			return err
		}
		// The marker's record may come before Add's reply.
		w.mu.Lock()
		w.syncWant = uint32(id)
		if slices.Contains(w.syncEarly, uint32(id)) && w.syncWake != nil {
			w.syncHit = true
			close(w.syncWake)
			w.syncWake = nil
		}
		w.mu.Unlock()
		select {
		case <-wake:
		case <-w.done:
		case <-ctx.Done():
		}
		w.c.Unlink(context.WithoutCancel(ctx), id, w.syncRing)
		w.mu.Lock()
		hit := w.syncHit
		w.syncWake = nil
		w.mu.Unlock()
		if hit || isClosed(w.done) || ctx.Err() != nil {
			return ctx.Err()
		}
		// A loss came first: the marker may have been dropped. Post
		// another behind it.
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// marker notes a record of the sync watch: the link of the awaited key.
func (w *sessionWatcher) marker(r watchqueue.KeyNotification) {
	if r.Subtype != watchqueue.KeyLinked {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.syncWake == nil:
	case w.syncWant == 0:
		w.syncEarly = append(w.syncEarly, r.Aux)
	case r.Aux == w.syncWant:
		w.syncHit = true
		close(w.syncWake)
		w.syncWake = nil
	}
}

// lost wakes a waiting sync, whose marker may be among what was dropped.
func (w *sessionWatcher) lost() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.syncWake != nil {
		close(w.syncWake)
		w.syncWake = nil
	}
}

// request does what a command below the session asked on the watch fd.
func (w *sessionWatcher) request(ctx context.Context, r watchfd.Request) error {
	switch r.Verb {
	case watchfd.Add:
		return w.c.Watch(ctx, r.Key, addedWatchTag)
	case watchfd.Remove:
		return w.c.Watch(ctx, r.Key, -1)
	default:
		return w.sync(ctx)
	}
}

// consume logs records until ctx ends or the session's watch is removed.
func (w *sessionWatcher) consume(ctx context.Context) {
	defer close(w.done)
	for rec, err := range w.c.Records(ctx) {
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(w.stderr, "read: %s\n", strerror(err))
				w.code = 1
			}
			return
		}
		switch r := rec.(type) {
		case watchqueue.KeyNotification:
			if r.Tag == syncTag {
				w.marker(r)
				continue
			}
		case watchqueue.Removal:
			if r.Tag == syncTag {
				continue
			}
		}
		line, _ := watchLine(rec, w.filter.only, w.filter.filtered)
		out := w.notify
		if _, ok := rec.(watchqueue.Removal); ok {
			out = w.gc
		}
		if line != "" {
			out.WriteString(line + "\n")
		}
		switch r := rec.(type) {
		case watchqueue.Loss:
			w.lost()
		case watchqueue.Removal:
			if r.Tag == sessionWatchTag {
				return
			}
		}
	}
}

// terminated writes keyctl's last line to both logs.
func (w *sessionWatcher) terminated() {
	w.notify.WriteString("Monitoring terminated\n")
	w.gc.WriteString("Monitoring terminated\n")
}

// cmdWatchAdd is `watch_add <fd> <key>`: watch key on the queue of the
// watch_session above, with tag 2.
func cmdWatchAdd(ctx context.Context, a *app, args []string) error {
	return a.watchFDKey(ctx, args, watchfd.Add)
}

// cmdWatchRm is `watch_rm <fd> <key>`: remove the queue's watch on key;
// the watcher logs its removal ("<id> gc").
func cmdWatchRm(ctx context.Context, a *app, args []string) error {
	return a.watchFDKey(ctx, args, watchfd.Remove)
}

func (a *app) watchFDKey(ctx context.Context, args []string, verb watchfd.Verb) error {
	if err := nargs(args, 2, 2); err != nil {
		return err
	}
	fd := int(clib.Atoi(args[0]))
	id, err := a.keyID(ctx, args[1])
	if err != nil {
		return err
	}
	// The kernel looks the key up with create, so @t, @p and @s are made
	// if need be, and the watcher is told the serial.
	if id < 0 {
		p, err := a.process(ctx)
		if err != nil {
			return err
		}
		if id, err = p.GetKeyringID(ctx, id, true); err != nil {
			return opError("keyctl_watch_key", err)
		}
	}
	if err := watchfd.Call(fd, watchfd.Request{Verb: verb, Key: id}); err != nil {
		return opError("keyctl_watch_key", err)
	}
	return nil
}

// cmdWatchSync is `watch_sync <fd>`: wait until the watch_session's
// watcher has logged every record posted so far.
func cmdWatchSync(_ context.Context, a *app, args []string) error {
	if err := nargs(args, 1, 1); err != nil {
		return err
	}
	fd := int(clib.Atoi(args[0]))
	switch err := watchfd.Call(fd, watchfd.Request{Verb: watchfd.Sync}); {
	case err == nil:
		return nil
	case errors.Is(err, watchfd.ErrNotWatchFD):
		// keyctl falls back to FIONREAD, which fails so on what is not a
		// pipe.
		return opError("ioctl(FIONREAD)", unix.ENOTTY)
	default:
		return opError("ioctl(PIPE_IOC_SYNC)", err)
	}
}
