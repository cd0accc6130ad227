//go:build linux

package keyring_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// The crash test: a child process (this test binary, re-run with
// -test.run=^TestCrashChild$) changes a store from several goroutines and
// prints each change it was acknowledged; the parent kills it with SIGKILL
// at a random moment, reopens the store, and checks that it is consistent
// and holds every acknowledged change. Before each call the child also
// prints what it is about to try, so that the parent knows which changes
// were in flight at the kill: those may or may not have landed, and must be
// all there or not at all.
//
// SIGKILL loses what a process has not written, not what the kernel has
// accepted, so this finds atomicity and ordering bugs (a change acknowledged
// before it was committed, a commit that leaves the file inconsistent); it
// cannot find a missing fsync, which only a power cut shows.

// Environment of the child, set by TestCrash.
const (
	crashEnvStore = "KEYRING_CRASH_STORE"      // the store's path; its presence makes TestCrashChild act
	crashEnvRings = "KEYRING_CRASH_RINGS"      // the serials of the keyrings to work in, comma-separated
	crashEnvCycle = "KEYRING_CRASH_CYCLE"      // the kill cycle, which keeps descriptions unique across children
	crashEnvSeed  = "KEYRING_CRASH_CHILD_SEED" // the child's randomness

	// crashEnvRepeat, set for the parent, repeats a run's kill schedule.
	crashEnvRepeat = "KEYRING_CRASH_SEED"
)

const (
	crashWriters = 4 // goroutines in the child: enough that commits are shared
	// crashRings is how many keyrings keys move between; at most 8, since
	// a key's rings are a bit mask.
	crashRings = 3
	// crashKeysPerWriter is where a writer stops favouring adds, so that the
	// store, and the parent's check of it, stay small however fast the disk.
	crashKeysPerWriter = 60
	crashPrefix        = "crash "
)

// crashOp is one change the child makes, as it prints it.
type crashOp struct {
	writer  int
	kind    string // add, update, link, unlink, revoke
	key     keyring.Serial
	ring    keyring.Serial
	desc    string
	payload string
}

func (op crashOp) String() string {
	field := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return fmt.Sprintf("%d %s %d %d %s %s", op.writer, op.kind, op.key, op.ring, field(op.desc), field(op.payload))
}

func parseCrashOp(s string) (crashOp, error) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return crashOp{}, fmt.Errorf("%d fields", len(f))
	}
	var op crashOp
	var err [3]error
	op.writer, err[0] = strconv.Atoi(f[0])
	op.kind = f[1]
	key, err1 := strconv.ParseInt(f[2], 10, 32)
	ring, err2 := strconv.ParseInt(f[3], 10, 32)
	err[1], err[2] = err1, err2
	op.key, op.ring = keyring.Serial(key), keyring.Serial(ring)
	empty := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	op.desc, op.payload = empty(f[4]), empty(f[5])
	return op, errors.Join(err[:]...)
}

// crashState is what the parent knows of a key. Rings is a bit mask over
// the crash keyrings' indexes; a key in none is destroyed. A revoked key's
// payload is gone, so it is "".
type crashState struct {
	desc    string
	payload string
	rings   uint8
	revoked bool
}

// crashModel is the parent's picture of the store: every key in the crash
// keyrings, by serial.
type crashModel map[keyring.Serial]crashState

// apply changes m as op does; it fails for a change to a key m does not
// hold, which would mean the child saw a store the parent did not.
func (m crashModel) apply(op crashOp, ringBit map[keyring.Serial]uint8) error {
	if op.kind == "add" {
		m[op.key] = crashState{desc: op.desc, payload: op.payload, rings: ringBit[op.ring]}
		return nil
	}
	st, ok := m[op.key]
	if !ok {
		return fmt.Errorf("%s of key %d, which the store did not hold", op.kind, op.key)
	}
	switch op.kind {
	case "update":
		st.payload = op.payload
	case "link":
		st.rings |= ringBit[op.ring]
	case "unlink":
		st.rings &^= ringBit[op.ring]
	case "revoke":
		st.revoked, st.payload = true, ""
	default:
		return fmt.Errorf("unknown change %q", op.kind)
	}
	if st.rings == 0 {
		delete(m, op.key) // unlinked from its last keyring: destroyed in the same commit
	} else {
		m[op.key] = st
	}
	return nil
}

func TestCrash(t *testing.T) {
	cycles := 60
	if testing.Short() {
		cycles = 12
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashEnvRepeat); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", crashEnvRepeat, s, err)
		}
	}
	// The children's interleavings depend on timing, so the seed repeats the
	// kill schedule and each child's choices, not the exact run.
	t.Logf("seed %d (%s=%d repeats the kill schedule)", seed, crashEnvRepeat, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "keys.db")
	rings := crashSetUp(t, path)
	ringBit := map[keyring.Serial]uint8{}
	ringList := make([]string, len(rings))
	for i, r := range rings {
		ringBit[r] = 1 << i
		ringList[i] = strconv.Itoa(int(r))
	}
	model := crashModel{}

	var acked, inFlight, landed, keys int
	for cycle := range cycles {
		// Most kills land in the stream of changes, timed from when the
		// child says it is ready; one in eight is timed from its start, so
		// that some land while it opens the store, which writes too.
		delay := time.Duration(5+rng.IntN(196)) * time.Millisecond
		fromStart := rng.IntN(8) == 0
		cmd := exec.Command(exe, "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=2m")
		cmd.Env = append(os.Environ(),
			crashEnvStore+"="+path,
			crashEnvRings+"="+strings.Join(ringList, ","),
			crashEnvCycle+"="+strconv.Itoa(cycle),
			crashEnvSeed+"="+strconv.FormatUint(rng.Uint64(), 10))
		// Should this test die, its child dies with it rather than hold the
		// store's lock.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		lines, stderr := crashRun(t, cmd, delay, fromStart)

		ops, pending, err := crashReplay(lines, model, ringBit)
		if err != nil {
			t.Fatalf("cycle %d: %v\nchild stderr:\n%s", cycle, err, stderr)
		}
		acked += ops
		inFlight += len(pending)

		store, err := keyring.Open(path, keyring.Options{})
		if err != nil {
			t.Fatalf("cycle %d: reopening after the kill: %v", cycle, err)
		}
		if err := store.Check(); err != nil {
			store.Close()
			t.Fatalf("cycle %d: store inconsistent after the kill: %v", cycle, err)
		}
		observed, err := crashObserve(store, rings, model)
		store.Close()
		if err != nil {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		n, err := crashCompare(model, observed, pending, ringBit)
		if err != nil {
			from := "it was ready"
			if fromStart {
				from = "it started"
			}
			t.Fatalf("cycle %d (killed %v after %s): %v\nchild stderr:\n%s", cycle, delay, from, err, stderr)
		}
		landed += n
		// What was in flight is now settled one way or the other: the next
		// child starts from what the store holds.
		model = observed
		keys = len(model)
	}
	t.Logf("%d kill cycles: %d changes acknowledged and found, %d in flight at a kill (%d of them landed), %d keys at the end",
		cycles, acked, inFlight, landed, keys)
}

// crashSetUp creates the store and the keyrings the children work in,
// linked below the user keyring so that they persist and root possesses
// what they hold.
func crashSetUp(t *testing.T, path string) []keyring.Serial {
	t.Helper()
	store, err := keyring.Open(path, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p := store.Process(root)
	rings := make([]keyring.Serial, crashRings)
	for i := range rings {
		if rings[i], err = p.Add(ctx, "keyring", fmt.Sprintf("crash.%d", i), nil, keyring.UserKeyring); err != nil {
			t.Fatal(err)
		}
	}
	return rings
}

// crashRun starts cmd, kills it delay after it started or after it said it
// was ready, and returns every complete line it printed and its stderr. A
// child that dies by itself, or reports a failure or a data race, fails the
// test.
func crashRun(t *testing.T, cmd *exec.Cmd, delay time.Duration, fromStart bool) ([]string, string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := make(chan string, 256)
	go func() {
		defer close(out)
		r := bufio.NewReader(stdout)
		for {
			// A line cut short by the kill has no newline: it was not
			// acknowledged, and ReadString's error drops it.
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			out <- strings.TrimSuffix(line, "\n")
		}
	}()

	var kill <-chan time.Time
	if fromStart {
		kill = time.After(delay)
	}
	stuck := time.After(time.Minute)
	killed := false
	var lines []string
	for out != nil {
		select {
		case line, ok := <-out:
			if !ok {
				out = nil
				break
			}
			if line == crashPrefix+"ready" && !fromStart {
				kill = time.After(delay)
			}
			lines = append(lines, line)
		case <-kill:
			cmd.Process.Signal(syscall.SIGKILL)
			killed, kill = true, nil
		case <-stuck:
			cmd.Process.Signal(syscall.SIGKILL)
			t.Errorf("the child was not killed within a minute")
			stuck = nil
		}
	}
	err = cmd.Wait()
	if s := stderr.String(); strings.Contains(s, "DATA RACE") {
		t.Errorf("the child found a data race:\n%s", s)
	}
	if !killed {
		t.Fatalf("the child ended by itself (%v):\n%s", err, stderr.String())
	}
	for _, line := range lines {
		if msg, ok := strings.CutPrefix(line, crashPrefix+"fail "); ok {
			t.Fatalf("the child failed: %s\n%s", msg, stderr.String())
		}
	}
	return lines, stderr.String()
}

// crashReplay applies to model the changes the child acknowledged, in the
// order it printed them, and returns how many there were and the changes it
// had started but not acknowledged: one at most per writer. A writer's keys
// are its own, so its acknowledgements are in commit order for each key.
func crashReplay(lines []string, model crashModel, ringBit map[keyring.Serial]uint8) (int, []crashOp, error) {
	pending := map[int]crashOp{}
	acked := 0
	for _, line := range lines {
		rest, ok := strings.CutPrefix(line, crashPrefix)
		if !ok {
			continue // the test framework's own output
		}
		verb, rest, _ := strings.Cut(rest, " ")
		switch verb {
		case "ready":
			continue
		case "try", "ok":
		default:
			return 0, nil, fmt.Errorf("unknown line %q", line)
		}
		op, err := parseCrashOp(rest)
		if err != nil {
			return 0, nil, fmt.Errorf("line %q: %v", line, err)
		}
		if verb == "try" {
			if prev, busy := pending[op.writer]; busy {
				return 0, nil, fmt.Errorf("writer %d tried %v while %v was unacknowledged", op.writer, op, prev)
			}
			pending[op.writer] = op
			continue
		}
		tried, busy := pending[op.writer]
		if !busy || tried.kind != op.kind || tried.desc != op.desc || tried.payload != op.payload {
			return 0, nil, fmt.Errorf("writer %d acknowledged %v after trying %v", op.writer, op, tried)
		}
		delete(pending, op.writer)
		if err := model.apply(op, ringBit); err != nil {
			return 0, nil, fmt.Errorf("acknowledged %v: %v", op, err)
		}
		acked++
	}
	return acked, slices.SortedFunc(maps.Values(pending), func(a, b crashOp) int { return a.writer - b.writer }), nil
}

// crashObserve reads back every key in the crash keyrings, and makes sure
// that each key model holds and the keyrings do not is gone for good.
func crashObserve(store *keyring.Store, rings []keyring.Serial, model crashModel) (crashModel, error) {
	p := store.Process(root)
	got := crashModel{}
	for i, r := range rings {
		ids, err := p.Keys(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("keyring %d: %w", r, err)
		}
		for _, id := range ids {
			st := got[id]
			st.rings |= 1 << i
			got[id] = st
		}
	}
	for id, st := range got {
		payload, err := p.Read(ctx, id)
		switch {
		case err == nil:
			st.payload = string(payload)
			d, err := p.Describe(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("describe %d: %w", id, err)
			}
			st.desc = d.Description
		case errors.Is(err, unix.EKEYREVOKED):
			// A revoked key cannot be described; only an acknowledged or
			// pending add made it, so the model knows its description.
			st.revoked, st.desc = true, model[id].desc
		default:
			return nil, fmt.Errorf("read %d: %w", id, err)
		}
		got[id] = st
	}
	for id := range model {
		if _, ok := got[id]; ok {
			continue
		}
		if _, err := p.Read(ctx, id); !errors.Is(err, unix.ENOKEY) {
			return nil, fmt.Errorf("key %d is in no keyring but still there: read says %v", id, err)
		}
	}
	return got, nil
}

// crashCompare checks that got is model with each pending change either
// made in full or not at all, and returns how many were made.
func crashCompare(model, got crashModel, pending []crashOp, ringBit map[keyring.Serial]uint8) (int, error) {
	byKey := map[keyring.Serial]crashOp{}
	var adds []crashOp
	for _, op := range pending {
		if op.kind == "add" {
			adds = append(adds, op)
		} else {
			byKey[op.key] = op
		}
	}
	landed := 0
	var problems []error
	for _, id := range slices.Sorted(maps.Keys(mergeKeys(model, got))) {
		want, wantOK := model[id]
		have, haveOK := got[id]
		if wantOK == haveOK && want == have {
			continue
		}
		if op, ok := byKey[id]; ok {
			after := crashModel{}
			if wantOK {
				after[id] = want
			}
			if err := after.apply(op, ringBit); err != nil {
				return 0, err
			}
			if alt, altOK := after[id]; altOK == haveOK && alt == have {
				landed++
				continue
			}
		}
		if !wantOK && haveOK && !have.revoked {
			i := slices.IndexFunc(adds, func(op crashOp) bool {
				return op.desc == have.desc && op.payload == have.payload && ringBit[op.ring] == have.rings
			})
			if i >= 0 {
				adds = slices.Delete(adds, i, i+1) // each add makes one key
				landed++
				continue
			}
		}
		problems = append(problems, fmt.Errorf("key %d: want %s, store has %s (in flight: %v)",
			id, crashDescribe(want, wantOK), crashDescribe(have, haveOK), pending))
	}
	return landed, errors.Join(problems...)
}

func mergeKeys(a, b crashModel) crashModel {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}

func crashDescribe(st crashState, ok bool) string {
	if !ok {
		return "no key"
	}
	return fmt.Sprintf("%+v", st)
}

// TestCrashChild is the child of TestCrash; run by itself it skips.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvStore)
	if path == "" {
		t.Skip("the child process of TestCrash; it runs only there")
	}
	cycle, err := strconv.Atoi(os.Getenv(crashEnvCycle))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := strconv.ParseUint(os.Getenv(crashEnvSeed), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	var rings []keyring.Serial
	for _, s := range strings.Split(os.Getenv(crashEnvRings), ",") {
		r, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		rings = append(rings, keyring.Serial(r))
	}

	store, err := keyring.Open(path, keyring.Options{})
	if err != nil {
		crashSay("fail open: %v", err)
		t.Fatal(err)
	}
	defer store.Close()
	p := store.Process(root)

	// Pick up where the last child was killed: the keys in the rings, which
	// of them are revoked, and who owns each (by serial, so that only one
	// writer ever touches a key).
	writers := make([]*crashWriter, crashWriters)
	for i := range writers {
		writers[i] = &crashWriter{t: t, id: i, p: p, rings: rings, cycle: cycle,
			rng: rand.New(rand.NewPCG(seed, uint64(i))), keys: map[keyring.Serial]*crashChildKey{}}
	}
	for _, r := range rings {
		ids, err := p.Keys(ctx, r)
		if err != nil {
			crashSay("fail keys of %d: %v", r, err)
			t.Fatal(err)
		}
		for _, id := range ids {
			w := writers[int(id)%crashWriters]
			k := w.keys[id]
			if k == nil {
				k = &crashChildKey{rings: map[keyring.Serial]bool{}}
				w.keys[id] = k
				w.order = append(w.order, id)
			}
			k.rings[r] = true
		}
	}
	for _, w := range writers {
		for id, k := range w.keys {
			if _, err := p.Read(ctx, id); errors.Is(err, unix.EKEYREVOKED) {
				k.revoked = true
			} else if err != nil {
				crashSay("fail read %d: %v", id, err)
				t.Fatal(err)
			}
		}
	}

	crashSay("ready")
	// The parent kills this process within a fraction of a second; the
	// deadline only bounds a child left behind.
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Go(func() { w.run(deadline) })
	}
	wg.Wait()
}

// crashSay prints one line for the parent in one write, which a pipe keeps
// whole (it is far below PIPE_BUF), so that lines from several goroutines
// never mix.
func crashSay(format string, args ...any) {
	os.Stdout.WriteString(crashPrefix + fmt.Sprintf(format, args...) + "\n")
}

type crashChildKey struct {
	rings   map[keyring.Serial]bool
	revoked bool
}

// crashWriter is one goroutine of the child, with the keys it alone
// changes.
type crashWriter struct {
	t     *testing.T
	id    int
	p     *keyring.Process
	rng   *rand.Rand
	rings []keyring.Serial
	cycle int
	n     int // changes made, for unique descriptions and payloads

	keys  map[keyring.Serial]*crashChildKey
	order []keyring.Serial // keys' serials, for a repeatable random pick
}

func (w *crashWriter) run(deadline time.Time) {
	for time.Now().Before(deadline) {
		w.n++
		op := w.next()
		crashSay("try %v", op)
		if err := w.do(&op); err != nil {
			crashSay("fail %v: %v", op, err)
			w.t.Errorf("%v: %v", op, err)
			return
		}
		crashSay("ok %v", op)
	}
}

// next picks a change: adds until the writer holds enough keys, then a mix
// in which unlinks and revocations keep the number of keys level.
func (w *crashWriter) next() crashOp {
	op := crashOp{writer: w.id}
	if len(w.order) < crashKeysPerWriter/2 || len(w.order) < crashKeysPerWriter && w.rng.IntN(100) < 40 {
		op.kind = "add"
		op.ring = w.rings[w.rng.IntN(len(w.rings))]
		op.desc = fmt.Sprintf("c%d.w%d.%d", w.cycle, w.id, w.n)
		op.payload = fmt.Sprintf("v%d.%d.%d", w.cycle, w.id, w.n)
		return op
	}
	// Revoked keys can only be unlinked.
	live := slices.DeleteFunc(slices.Clone(w.order), func(id keyring.Serial) bool { return w.keys[id].revoked })
	roll := w.rng.IntN(100)
	switch {
	case len(live) == 0 || roll < 30:
		op.kind = "unlink"
		op.key = w.order[w.rng.IntN(len(w.order))]
		in := slices.Sorted(maps.Keys(w.keys[op.key].rings))
		op.ring = in[w.rng.IntN(len(in))]
		return op
	case roll < 60:
		op.kind = "update"
		op.key = live[w.rng.IntN(len(live))]
	case roll < 80:
		op.kind = "link"
		op.key = live[w.rng.IntN(len(live))]
		var free []keyring.Serial
		for _, r := range w.rings {
			if !w.keys[op.key].rings[r] {
				free = append(free, r)
			}
		}
		if len(free) > 0 {
			op.ring = free[w.rng.IntN(len(free))]
			return op
		}
		op.kind = "update" // in every keyring already
	default:
		op.kind = "revoke"
		op.key = live[w.rng.IntN(len(live))]
		return op
	}
	op.payload = fmt.Sprintf("u%d.%d.%d", w.cycle, w.id, w.n)
	return op
}

// do makes the change and, once it is acknowledged, records it in the
// writer's keys; for an add it fills in the new key's serial.
func (w *crashWriter) do(op *crashOp) error {
	switch op.kind {
	case "add":
		id, err := w.p.Add(ctx, "user", op.desc, []byte(op.payload), op.ring)
		if err != nil {
			return err
		}
		op.key = id
		w.keys[id] = &crashChildKey{rings: map[keyring.Serial]bool{op.ring: true}}
		w.order = append(w.order, id)
	case "update":
		return w.p.Update(ctx, op.key, []byte(op.payload))
	case "link":
		if err := w.p.Link(ctx, op.key, op.ring); err != nil {
			return err
		}
		w.keys[op.key].rings[op.ring] = true
	case "unlink":
		if err := w.p.Unlink(ctx, op.key, op.ring); err != nil {
			return err
		}
		k := w.keys[op.key]
		delete(k.rings, op.ring)
		if len(k.rings) == 0 {
			delete(w.keys, op.key)
			w.order = slices.DeleteFunc(w.order, func(id keyring.Serial) bool { return id == op.key })
		}
	case "revoke":
		if err := w.p.Revoke(ctx, op.key); err != nil {
			return err
		}
		w.keys[op.key].revoked = true
	}
	return nil
}
