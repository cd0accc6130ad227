//go:build linux

package keyring_test

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// The oracle's random sequences: seeded mixes of every operation on a
// small world of keys (few descriptions, so that keys collide, displace
// and update one another), each step compared on both sides, and the whole
// graph compared every oracleGraphEvery steps and at the end. A mismatch
// names the seed and step, and how to run that seed alone.

// oracleRandomRuns are the seeds. The runs as another uid (in a child
// process, as root only) are where quotas and permissions against a
// non-root owner matter; the others run as this process's user.
var oracleRandomRuns = []struct {
	seed  uint64
	steps int
	child bool
}{
	{seed: 1, steps: 2000},
	{seed: 2, steps: 2000},
	{seed: 3, steps: 2000, child: true},
	{seed: 4, steps: 2000, child: true},
	{seed: 5, steps: 2000, child: true},
}

// oracleHistory is how many steps a mismatch's report shows before it. The
// kernel lets go of a key 10-20 ms after its last link went, so a
// difference in which keys exist may show a dozen steps after its cause.
var oracleHistory = flag.Int("oracle.history", 25, "steps TestOracleRandom shows before a oracleMismatch")

// oracleGraphEvery is how often, in steps, the whole graph is compared:
// often enough to catch a difference that no step's answer shows near
// where it arose.
const oracleGraphEvery = 200

// TestOracleRandom runs the seeds side by side: most of a seed's time is
// spent waiting for the kernel to let go of keys (settle), which
// overlaps well.
func TestOracleRandom(t *testing.T) {
	cred := oracleCurrentCred(t)
	probeOracleKeyrings(t)
	var bin string
	if os.Geteuid() == 0 {
		bin = oracleChildBinary(t)
	}
	// Each seed has uids of its own, picked before they run: its child's,
	// whose quota must be whole, and a stranger's to chown keys to, whose
	// quota the kernel charges too.
	var uid uint32
	reserve := func() uint32 { uid = freeOracleUID(t, uid); return uid }
	var total atomic.Int64
	t.Cleanup(func() {
		t.Logf("%d random steps compared", total.Load())
		logOracleKnown(t)
	})
	for _, run := range oracleRandomRuns {
		c := cred
		if run.child {
			c = perms.Cred{UID: reserve(), GID: uid}
		}
		stranger := int64(reserve())
		t.Run(fmt.Sprintf("seed=%d", run.seed), func(t *testing.T) {
			t.Parallel()
			if run.child && bin == "" {
				t.Skip("needs root: the child runs as another uid")
			}
			o := newOracle(t, openOracleStore(t))
			var k oracleKernel
			if run.child {
				k = startOracleChild(t, bin, c)
				o.countOwner = c.UID
				t.Cleanup(func() {
					if !waitOracleUIDFree(c.UID, 5*time.Second) {
						t.Logf("uid %d still holds kernel keys; the next run picks another", c.UID)
					}
				})
			} else {
				k = startOracleThread()
			}
			t.Cleanup(func() {
				o.cleanup()
				if err := k.close(); err != nil {
					t.Error(err)
				}
			})
			a := o.addActor(k, c)
			if run.child {
				// The store makes a uid's user keyrings, and charges them,
				// on its first operation, the kernel on their first use
				// (see knownDiscrepancies): used from the start, they cost
				// the same on both sides, and the quotas compare.
				for _, id := range []keyring.Serial{keyring.UserKeyring, keyring.UserSessionKeyring} {
					if _, _, m := o.do(a, oracleStep{op: "getid", key: oracleSpecial(id)}); m != nil {
						t.Fatal(m)
					}
				}
			}
			g := &oracleGen{rng: rand.New(rand.NewPCG(run.seed, 0x6b6579637466)), o: o, cred: c, stranger: stranger,
				hint: map[oracleRef]oracleRef{}}
			if run.child {
				// More descriptions, so that the world grows past the
				// uid's 200 keys and EDQUOT comes up. Small payloads: the
				// kernel keeps charging a keyring for the links its gc
				// removes (see knownDiscrepancies), so the byte quota,
				// which the table cases test to the byte, is kept away
				// from here.
				g.maxLive, g.bigShare, g.midMax = 230, 0, 80
				g.userDescs = oracleDescs("u", 64)
				// And more adding than taking away.
				g.weights = oracleReweigh(map[string]int{"add user": 360, "unlink": 35, "invalidate": 10, "clear": 1, "setperm": 25})
			} else {
				// The kernel's quota binds root only far beyond this, and
				// a non-root user running the test only if they already
				// hold more than 80 keys.
				g.maxLive, g.bigShare, g.midMax = 120, 8, 300
				g.userDescs = oracleDescs("u", 8)
				g.weights = oracleWeights
			}
			total.Add(int64(runOracleRandom(t, o, g, run.seed, run.steps)))
		})
	}
}

// runOracleRandom runs steps steps and returns how many it compared.
func runOracleRandom(t *testing.T, o *oracle, g *oracleGen, seed uint64, steps int) int {
	t.Helper()
	var step int
	o.where = func() string { return fmt.Sprintf("seed %d step %d: ", seed, step) }
	a := o.actors[0]
	var history []string
	// outcomes counts each operation's answers, to show what a seed
	// exercised.
	outcomes := map[string]map[string]int{}
	most := 0
	defer func() {
		var lines []string
		for _, op := range slices.Sorted(maps.Keys(outcomes)) {
			var parts []string
			for _, e := range slices.Sorted(maps.Keys(outcomes[op])) {
				parts = append(parts, fmt.Sprintf("%s %d", e, outcomes[op][e]))
			}
			lines = append(lines, fmt.Sprintf("%s: %s", op, strings.Join(parts, ", ")))
		}
		t.Logf("seed %d as uid %d, at most %d keys alive at once; the kernel's answers by operation:\n\t%s",
			seed, a.cred.UID, most, strings.Join(lines, "\n\t"))
	}()
	fail := func(m *oracleMismatch) {
		t.Errorf("seed %d step %d: %v\nthe steps before:\n\t%s\nthe keys now:\n%s\nrun it again with: go test -race ./keyring -run 'TestOracleRandom/seed=%d$' -oracle.history=%d",
			seed, step, m, strings.Join(history, "\n\t"), o.dump(a), seed, step+1)
	}
	for step = 0; step < steps; step++ {
		st := g.next()
		k, s, m := o.do(a, st)
		if m == nil && (step+1)%oracleGraphEvery == 0 {
			m = o.compareGraph(a)
		}
		if m != nil {
			fail(m)
			return step
		}
		if o.diverged {
			t.Logf("seed %d step %d: %v: a known discrepancy left the sides different; the world starts over", seed, step, st)
			if m := g.restart(); m != nil {
				fail(m)
				return step
			}
		}
		if outcomes[st.op] == nil {
			outcomes[st.op] = map[string]int{}
		}
		outcomes[st.op][oracleErrnoName(k.Errno)]++
		history = append(history, fmt.Sprintf("%d: %v: kernel %v, store %v", step, st, k, s))
		if len(history) > *oracleHistory {
			history = history[1:]
		}
		g.learn(st, k)
		o.forget(4)
		most = max(most, g.live())
	}
	m := o.quiesce()
	if m == nil {
		m = o.compareGraph(a)
	}
	if m != nil {
		fail(m)
	}
	return steps
}

// oracleGen makes the random steps. Its choices depend only on the seed
// and on the order keys appeared in, never on serial values, so that a
// seed replays the same sequence.
type oracleGen struct {
	rng      *rand.Rand
	o        *oracle
	cred     perms.Cred
	stranger int64 // a uid and gid nobody uses
	maxLive  int
	bigShare int // percent of payloads of 1000 bytes or more
	midMax   int // the most bytes in a payload of middling size
	// userDescs are the descriptions of user keys: few, so that keys
	// collide, displace and update one another.
	userDescs []string
	weights   []oracleWeight
	// hint is a keyring each key was last put into, so that unlink and
	// move name a keyring that holds the key more often than chance.
	hint map[oracleRef]oracleRef
}

var (
	oracleLogonDescs   = []string{"svc:l0", "svc:l1", "svc:l2", "nocolon"}
	oracleKeyringDescs = []string{"r0", "r1", "r2", "r3", "r4", "r5"}
)

// oracleWeight is an operation's share of the random steps.
type oracleWeight struct {
	op     string
	weight int
}

// oracleWeights are the operations' shares of the random steps, per mille.
var oracleWeights = []oracleWeight{
	{"add user", 200}, {"add logon", 30}, {"add keyring", 90}, {"update", 50}, {"read", 70},
	{"describe", 40}, {"search", 90}, {"request", 20}, {"link", 110}, {"unlink", 70},
	{"move", 60}, {"clear", 4}, {"revoke", 20}, {"invalidate", 25}, {"setperm", 60},
	{"timeout", 20}, {"chown", 20}, {"getid", 10}, {"restrict", 3}, {"join", 1},
}

// restart gives both sides a fresh world after a known discrepancy left
// them different: the user keyrings, which outlive sessions, are cleared,
// and a new anonymous session keyring replaces the old one with all that
// only it held. Each of these steps is compared like any other.
func (g *oracleGen) restart() *oracleMismatch {
	o, a := g.o, g.o.actors[0]
	o.diverged, o.leaky = false, false
	var steps []oracleStep
	for _, e := range o.keys {
		if !e.dead && (e.desc == "@u" || e.desc == "@us") {
			steps = append(steps, oracleStep{op: "clear", ring: e.ref})
		}
	}
	for _, st := range append(steps, oracleStep{op: "join"}) {
		if _, _, m := o.do(a, st); m != nil {
			return m
		}
	}
	return nil
}

// next returns a random step.
func (g *oracleGen) next() oracleStep {
	total := 0
	for _, w := range g.weights {
		total += w.weight
	}
	n := g.rng.IntN(total)
	op := ""
	for _, w := range g.weights {
		if n -= w.weight; n < 0 {
			op = w.op
			break
		}
	}
	if strings.HasPrefix(op, "add") && g.live() >= g.maxLive {
		// Full: make room instead.
		op = "unlink"
		if g.rng.IntN(3) == 0 {
			op = "invalidate"
		}
	}
	switch op {
	case "add user":
		return oracleStep{op: "add", typ: "user", desc: oraclePick(g.rng, g.userDescs), payload: g.payload(), ring: g.ring()}
	case "add logon":
		return oracleStep{op: "add", typ: "logon", desc: oraclePick(g.rng, oracleLogonDescs), payload: g.payload(), ring: g.ring()}
	case "add keyring":
		var payload []byte
		if g.rng.IntN(50) == 0 {
			payload = []byte("x") // EINVAL
		}
		return oracleStep{op: "add", typ: "keyring", desc: oraclePick(g.rng, oracleKeyringDescs), payload: payload, ring: g.ring()}
	case "update":
		p := g.payload()
		if len(p) > keyring.MaxUpdatePayload && g.rng.IntN(2) == 0 {
			p = p[:keyring.MaxUpdatePayload+1] // EINVAL
		}
		return oracleStep{op: "update", key: g.key(), payload: p}
	case "read", "describe":
		return oracleStep{op: op, key: g.key()}
	case "getid":
		return oracleStep{op: op, key: g.key()}
	case "search":
		typ, desc := g.typeAndDesc()
		st := oracleStep{op: "search", ring: g.ring(), typ: typ, desc: desc}
		// With several keys to find, each side may find another (see
		// oracle.searchOrder), and link it into dest.
		if g.rng.IntN(10) < 3 && g.o.matches(typ, desc) < 2 {
			st.dest = g.ring()
		}
		return st
	case "request":
		typ, desc := g.typeAndDesc()
		st := oracleStep{op: "request", typ: typ, desc: desc}
		if g.rng.IntN(5) == 0 && g.o.matches(typ, desc) < 2 {
			st.dest = g.ring()
		}
		return st
	case "link":
		return oracleStep{op: "link", key: g.key(), ring: g.ring()}
	case "unlink":
		k := g.key()
		return oracleStep{op: "unlink", key: k, ring: g.holder(k)}
	case "move":
		k := g.key()
		flags := g.rng.IntN(2) // 0 or KEYCTL_MOVE_EXCL
		if g.rng.IntN(50) == 0 {
			flags = 2 // EINVAL
		}
		return oracleStep{op: "move", key: k, ring: g.holder(k), dest: g.ring(), flags: flags}
	case "clear":
		return oracleStep{op: "clear", ring: g.ring()}
	case "revoke", "invalidate":
		return oracleStep{op: op, key: g.victim()}
	case "setperm":
		return oracleStep{op: "setperm", key: g.victim(), perm: g.mask()}
	case "timeout":
		// Only timeouts that do not run out during the test: set_timeout
		// 0 and a day. Expiry itself is a table case, with a real pause.
		secs := uint32(0)
		if g.rng.IntN(4) == 0 {
			secs = 86400
		}
		return oracleStep{op: "timeout", key: g.victim(), seconds: secs}
	case "chown":
		uid, gid := int64(-1), int64(-1)
		switch g.rng.IntN(5) {
		case 1:
			uid = int64(g.cred.UID)
		case 2:
			gid = int64(g.cred.GID)
		case 3:
			uid = g.stranger // root only; EACCES for others
		case 4:
			gid = g.stranger
		}
		return oracleStep{op: "chown", key: g.victim(), uid: uid, gid: gid}
	case "restrict":
		return oracleStep{op: "restrict", ring: g.victim()}
	case "join":
		return oracleStep{op: "join"}
	}
	panic("oracle: no operation " + op)
}

// learn notes where a successful step put a key.
func (g *oracleGen) learn(st oracleStep, k oracleResult) {
	if k.Errno != 0 {
		return
	}
	switch st.op {
	case "add":
		if e := g.o.byK[k.Serial]; e != nil {
			g.hint[e.ref] = st.ring
		}
	case "link":
		g.hint[st.key] = st.ring
	case "move":
		g.hint[st.key] = st.dest
	case "search", "request":
		if e := g.o.byK[k.Serial]; e != nil && st.dest != (oracleRef{}) {
			g.hint[e.ref] = st.dest
		}
	}
}

// oracleReweigh returns oracleWeights with some weights changed.
func oracleReweigh(change map[string]int) []oracleWeight {
	w := slices.Clone(oracleWeights)
	for i := range w {
		if n, ok := change[w[i].op]; ok {
			w[i].weight = n
		}
	}
	return w
}

// oracleDescs returns n descriptions: prefix0, prefix1...
func oracleDescs(prefix string, n int) []string {
	descs := make([]string, n)
	for i := range descs {
		descs[i] = fmt.Sprint(prefix, i)
	}
	return descs
}

func oraclePick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func (g *oracleGen) live() int {
	n := 0
	for _, e := range g.o.keys {
		if !e.dead {
			n++
		}
	}
	return n
}

// key is mostly a key alive, now and then the session keyring by its
// special id, a key both sides destroyed, or an id that was never a key.
func (g *oracleGen) key() oracleRef {
	switch n := g.rng.IntN(100); {
	case n < 2:
		return oracleBogus
	case n < 6:
		return oracleSpecial(keyring.SessionKeyring)
	case n < 10:
		return oraclePick(g.rng, g.o.keys).ref
	}
	return g.alive(func(*oracleKey) bool { return true })
}

// alive picks a key alive that ok accepts, or the session keyring.
func (g *oracleGen) alive(ok func(*oracleKey) bool) oracleRef {
	var keys []*oracleKey
	for _, e := range g.o.keys {
		if !e.dead && ok(e) {
			keys = append(keys, e)
		}
	}
	if len(keys) == 0 {
		return oracleSpecial(keyring.SessionKeyring)
	}
	return oraclePick(g.rng, keys).ref
}

// ring is mostly a keyring, sometimes a key that is not one.
func (g *oracleGen) ring() oracleRef {
	switch n := g.rng.IntN(100); {
	case n < 20:
		return oracleSpecial(keyring.SessionKeyring)
	case n < 24:
		return g.key()
	}
	return g.alive(func(e *oracleKey) bool { return e.ring })
}

// holder is a keyring that likely holds k.
func (g *oracleGen) holder(k oracleRef) oracleRef {
	if r, ok := g.hint[k]; ok && g.rng.IntN(10) < 7 {
		return r
	}
	return g.ring()
}

// victim is a key to revoke, invalidate, restrict or change the
// attributes of: never a session or user keyring, whose loss would end the
// run's interest (clear and join still reset the world now and then).
func (g *oracleGen) victim() oracleRef {
	if g.rng.IntN(50) == 0 {
		return oracleBogus
	}
	r := g.alive(func(e *oracleKey) bool { return !e.keep })
	if r.k < 0 {
		return oracleBogus // nothing but the session: leave it alone
	}
	return r
}

func (g *oracleGen) typeAndDesc() (string, string) {
	if g.rng.IntN(10) < 6 {
		// A key that exists, so that searches find something.
		if r := g.alive(func(e *oracleKey) bool { return !e.keep }); r.k > 0 {
			e := g.o.byK[r.k]
			return e.typ, e.desc
		}
	}
	switch n := g.rng.IntN(100); {
	case n < 55:
		return "user", oraclePick(g.rng, g.userDescs)
	case n < 70:
		return "logon", oraclePick(g.rng, oracleLogonDescs)
	case n < 97:
		return "keyring", oraclePick(g.rng, oracleKeyringDescs)
	default:
		return "nosuchtype", "u0" // ENOKEY
	}
}

// payload is mostly small, sometimes big enough that a few of them fill
// a non-root uid's 20000 bytes, and sometimes one no type accepts.
func (g *oracleGen) payload() []byte {
	var n int
	switch r := g.rng.IntN(100); {
	case r < 2:
		return nil // EINVAL
	case r < 3:
		n = keyring.MaxUserPayload + 1 // EINVAL
	case r < 3+g.bigShare:
		n = 1000 + g.rng.IntN(3000)
	case r < 70:
		n = 1 + g.rng.IntN(16)
	default:
		n = 17 + g.rng.IntN(g.midMax-16)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + g.rng.IntN(26))
	}
	return b
}

// mask is a permission mask: the defaults back, one bit taken away,
// anything, or bits no mask may have.
func (g *oracleGen) mask() uint32 {
	switch n := g.rng.IntN(100); {
	case n < 3:
		return uint32(perms.AllMask) | 0x40<<(8*g.rng.IntN(4)) // EINVAL
	case n < 30:
		return uint32(oraclePick(g.rng, []perms.Mask{perms.DefaultUserKey, perms.DefaultLogonKey, perms.AllMask}))
	case n < 55:
		return uint32(perms.AllMask) &^ (1 << g.rng.IntN(30))
	case n < 70:
		return uint32(perms.DefaultUserKey) &^ (1 << (24 + g.rng.IntN(6)))
	}
	return g.rng.Uint32() & uint32(perms.AllMask)
}
