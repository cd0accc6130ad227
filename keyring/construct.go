//go:build linux

package keyring

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Request-key construction, as security/keys/request_key.c and
// request_key_auth.c do it. A request_key given callout information that
// finds nothing makes the key uninstantiated (keystore.FlagUnderConstruction),
// links it into the destination keyring, and makes an authority for it: a
// ".request_key_auth" key, described by the key's serial in hex, whose
// payload is the callout information, in a "_req.<serial>" keyring that
// becomes the helper's session keyring. The authority and its keyring live
// in memory only: a construction does not outlive the store's opening.
//
// The caller (the builder) gets a Construction back and runs the helper
// (package requestkey); the helper assumes the authority (AssumeAuthority,
// with the construction's token) and instantiates, negates or rejects the
// key; then the builder calls CompleteRequest, which negates a key the
// helper left under construction, as complete_request_key does. Others who
// meet the key meanwhile wait for it, as the kernel's waiters do.

// Limits and timeouts of request_key.
const (
	// MaxCalloutInfo is the most callout information request_key takes, in
	// bytes: the kernel copies at most a page, its NUL included.
	MaxCalloutInfo = 4095
	// DefaultNegativeTimeout is how long a key whose construction failed
	// stays negative (the kernel's key_negative_timeout).
	DefaultNegativeTimeout = 60 * time.Second
	// DefaultConstructionTimeout bounds a construction on the store's side:
	// a builder that neither completes nor goes away has its key negated
	// then. The kernel has no such bound; it trusts its own helper to end.
	DefaultConstructionTimeout = 5 * time.Minute
)

// authKeyType is the type of an authority key; the leading '.' keeps
// callers from adding, searching or requesting it by type.
const authKeyType = ".request_key_auth"

// authKeyMask is an authority key's mask, the kernel's: its possessor may
// view, read (the callout information), search and link it; its owner
// may view it.
var authKeyMask = perms.NewMask(perms.View|perms.Read|perms.Search|perms.Link, perms.View, 0, 0)

// authSessionMask is the mask of the helper's "_req.<serial>" session
// keyring: everything for its possessor, view and read for its owner.
var authSessionMask = perms.NewMask(perms.All, perms.View|perms.Read, 0, 0)

// AuthorityToken proves to AssumeAuthority that the caller is the helper a
// construction was made for: 32 random bytes in hex, which the builder
// hands to the helper (in its environment, for keyctl-go) and nobody else.
// It prints redacted.
type AuthorityToken string

func (AuthorityToken) String() string   { return "[authority token]" }
func (AuthorityToken) GoString() string { return "[authority token]" }

// Construction is a key that a request_key caller must have built: what
// RequestKeyWithCallout returns when it made the key, and what the helper's
// command line is made of (request-key's %-macros).
type Construction struct {
	Key       Serial         // the key under construction (%k)
	Authority Serial         // its .request_key_auth key
	Token     AuthorityToken // for AssumeAuthority; secret
	Op        string         // "create" (%o)
	Type      string         // %t
	// Description is the key's description (%d).
	Description string
	Callout     []byte // the callout information (%c)
	UID, GID    uint32 // the requester's (%u, %g)
	// Thread, Process and Session are the requester's keyrings (%T, %P,
	// %S): 0 for a thread or process keyring it has not made, the
	// user-session keyring for a session it does not have.
	Thread, Process, Session Serial
}

// construction is the store's record of a key under construction.
type construction struct {
	key       Serial
	authority Serial // the .request_key_auth key
	session   Serial // the helper's session keyring, "_req.<key>"
	token     AuthorityToken
	callout   []byte
	dest      Serial   // where instantiate and reject link for a special id (rka->dest_keyring); 0 for none
	builder   *Process // who asked, and completes it
	// requester is whose keyrings the authority lets the helper search
	// and possess, as that caller (rka->cred): the builder as it was, or
	// for a request made under an authority, that authority's requester.
	requester *Process
	done      chan struct{} // closed once the construction has ended
	over      atomic.Bool   // the key is instantiated or negated: the authority is spent

	timerMu sync.Mutex  // guards timer, armed after the commit while the construction may already be ending
	timer   *time.Timer // the store's bound (DefaultConstructionTimeout)
}

// constructions is a store's registry of live constructions, by key.
type constructions struct {
	mu   sync.Mutex // a leaf: nothing is waited for while it is held
	live map[Serial]*construction
}

func (cs *constructions) get(key Serial) *construction {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.live[key]
}

// byAuthority finds the construction an authority key belongs to.
func (cs *constructions) byAuthority(auth Serial) *construction {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.live {
		if c.authority == auth {
			return c
		}
	}
	return nil
}

func (cs *constructions) put(c *construction) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.live == nil {
		cs.live = map[Serial]*construction{}
	}
	cs.live[c.key] = c
}

func (cs *constructions) remove(c *construction) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.live[c.key] == c {
		delete(cs.live, c.key)
	}
}

// all returns the live constructions, those of builder alone if it is not
// nil.
func (cs *constructions) all(builder *Process) []*construction {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var out []*construction
	for _, c := range cs.live {
		if builder == nil || c.builder == builder {
			out = append(out, c)
		}
	}
	return out
}

// underConstruction reports how the store treats a key flagged under
// construction: live, with the construction to wait for, or dead (left
// by an earlier opening of the store, which ended without completing it),
// which behaves as a negative key, ENOKEY.
func (t *txn) underConstruction(r *keystore.KeyRecord) (c *construction, live bool) {
	if r.Flags&keystore.FlagUnderConstruction == 0 {
		return nil, false
	}
	c = t.s.building.get(Serial(r.Serial))
	return c, c != nil
}

// constructionPending is the error with which an operation that must wait
// for a key's construction leaves its transaction; update and read wait
// for the construction, then run the operation again.
type constructionPending struct{ c *construction }

func (e *constructionPending) Error() string {
	return fmt.Sprintf("keyring: key %d is under construction", e.c.key)
}

// Unwrap is EAGAIN, which nobody should see: the operation is run again.
func (e *constructionPending) Unwrap() error { return unix.EAGAIN }

// awaitConstruction waits for the construction err says an operation met,
// if it says so, and reports whether to run the operation again. A wait
// cut short by ctx is ctx's error, as an interrupted wait is EINTR in the
// kernel.
func awaitConstruction(ctx context.Context, err error) (again bool, _ error) {
	var pending *constructionPending
	if !errors.As(err, &pending) {
		return false, err
	}
	select {
	case <-pending.c.done:
		return true, nil
	case <-ctx.Done():
		return false, fmt.Errorf("keyring: waiting for key %d to be constructed: %w", pending.c.key, ctx.Err())
	}
}

// RequestKeyWithCallout is request_key(2) with callout information: it
// searches as RequestKey does, and if nothing is there, makes the key under
// construction, linked into dest (or the caller's default request-key
// keyring: thread, process, session, user-session; or, for a caller that
// has assumed an authority, that authority's destination) and returns a
// Construction, which the caller must build and then complete
// (CompleteRequest). A key found that is under construction is waited
// for, and its outcome returned: the key, or its error if negative.
//
// Checks run in the kernel's order: the type name and description
// (EINVAL, EPERM), the callout information (EINVAL past MaxCalloutInfo),
// the destination (its lookup's errors, Write), the type (ENOKEY for one
// the store does not have), then what the search meets (a negative key's
// error, EACCES, ...). A keyring cannot be constructed (EPERM). A search
// that found nothing and a new key over quota is EDQUOT.
//
// Unlike the kernel, the store does not run the helper: the caller does,
// with its own credentials (see package requestkey, and the package doc).
func (p *Process) RequestKeyWithCallout(ctx context.Context, typ, desc string, callout []byte, dest Serial) (Serial, *Construction, error) {
	return p.requestKey(ctx, typ, desc, callout, true, dest)
}

// requestKey is request_key(2), with callout information or without.
func (p *Process) requestKey(ctx context.Context, typ, desc string, callout []byte, withCallout bool, dest Serial) (Serial, *Construction, error) {
	const op = "request_key"
	if err := checkNames(typ, desc); err != nil {
		return 0, nil, err
	}
	if withCallout && len(callout) > MaxCalloutInfo {
		return 0, nil, fmt.Errorf("keyring: %s: %d bytes of callout information, limit %d: %w", op, len(callout), MaxCalloutInfo, unix.EINVAL)
	}
	if err := p.create(ctx, dest); err != nil {
		return 0, nil, err
	}
	var found Serial
	var made *construction
	// attempt is one search, and with construct, the construction of the
	// key if the search found nothing.
	attempt := func(t *txn, construct bool) error {
		found = 0
		if made != nil {
			// A transaction run again (keystore.DB.Update) makes it anew.
			t.s.building.remove(made)
			made = nil
		}
		if dest != 0 {
			if _, err := t.lookup(op, dest, 0, perms.Write); err != nil {
				return err
			}
		}
		if keyTypes[typ] == nil {
			return fmt.Errorf("keyring: %s %s:%s: unknown key type: %w", op, typ, desc, unix.ENOKEY)
		}
		id, err := t.searchProcessKeyrings(op, typ, desc)
		switch {
		case err == nil:
			if dest != 0 {
				if err := t.linkInto(op, id, dest); err != nil {
					return err
				}
			}
			found = id
			return nil
		case !construct || !errors.Is(err, errNotFound):
			return err
		}
		made, err = t.construct(op, typ, desc, callout, dest)
		return err
	}
	// A key found with nothing to link needs no commit, and no fsync.
	var err error
	if dest == 0 {
		err = p.read(ctx, func(t *txn) error { return attempt(t, false) })
	}
	if dest != 0 || (withCallout && errors.Is(err, errNotFound)) {
		err = p.update(ctx, func(t *txn) error { return attempt(t, withCallout) })
	}
	if err != nil {
		if made != nil {
			p.s.building.remove(made) // the transaction that made it did not commit
		}
		return 0, nil, err
	}
	if made != nil {
		return 0, p.s.started(made), nil
	}
	// A key found under construction is waited for (the syscall's
	// wait_for_key_construction), and so is one found after it.
	id, err := p.constructed(ctx, found)
	return id, nil, err
}

// constructed is wait_for_key_construction: once key is no longer under
// construction, key itself, or the error a negative key carries, or
// key_validate's.
func (p *Process) constructed(ctx context.Context, key Serial) (Serial, error) {
	const op = "request_key"
	err := p.read(ctx, func(t *txn) error {
		r, err := t.key(key)
		if err != nil {
			return err
		}
		if c, live := t.underConstruction(r); live {
			return &constructionPending{c}
		} else if r.Flags&keystore.FlagUnderConstruction != 0 {
			return errKey(op, key, unix.ENOKEY, "its construction ended with an earlier opening of the store")
		}
		if r.Flags&keystore.FlagNegative != 0 {
			return errKey(op, key, unix.Errno(r.Reject), "negative key")
		}
		return t.validate(op, key, r)
	})
	if err != nil {
		return 0, err
	}
	return key, nil
}

// construct is construct_key_and_link's making of the key: its
// destination, the key under construction linked there, and its authority.
// The construction is registered before the commit, so that no reader can
// see the key without it; the caller removes it if the commit fails.
func (t *txn) construct(op, typ, desc string, callout []byte, destID Serial) (*construction, error) {
	kt := keyTypes[typ]
	if typ == "keyring" {
		return nil, fmt.Errorf("keyring: %s %s:%s: keyrings cannot be constructed: %w", op, typ, desc, unix.EPERM)
	}
	if desc == "" {
		return nil, fmt.Errorf("keyring: %s %s: a key needs a description: %w", op, typ, unix.EINVAL) // key_alloc's
	}
	requester, authDest := t.p, Serial(0)
	if c := t.p.assumedAuthority(); c != nil {
		if !t.authorityValid(c) {
			return nil, errKey(op, c.key, unix.EKEYREVOKED, "the assumed authority is spent")
		}
		requester, authDest = c.requester, c.dest
	}
	dest, err := t.constructionDest(op, destID, authDest)
	if err != nil {
		return nil, err
	}
	if !dest.IsKeyring() {
		return nil, errKey(op, destID, unix.ENOTDIR, "not a keyring")
	}

	serial, err := t.tx.NewSerial()
	if err != nil {
		return nil, err
	}
	pos := perms.View | perms.Search | perms.Link | perms.Setattr
	if kt.readable {
		pos |= perms.Read
	}
	if kt.updatable {
		pos |= perms.Write
	}
	r := &keystore.KeyRecord{
		Serial:      serial,
		Type:        typ,
		Description: desc,
		UID:         t.p.cred.UID,
		GID:         t.p.cred.GID,
		Perm:        uint32(perms.NewMask(pos, perms.View, 0, 0)),
		Flags:       keystore.FlagUnderConstruction,
		CTime:       t.now,
		QuotaBytes:  uint32(len(desc)) + 1,
		// The store's deadline, for the collector to reap the key by if
		// the store closes or crashes before it is constructed; a key
		// under construction does not expire (see validate).
		Expiry: t.now + t.s.constructionTimeout.Nanoseconds(),
	}
	// Charged as add charges (Store.ProcessNotInQuota).
	newCharge := charge{uid: r.UID}
	if !t.p.notInQuota {
		r.Flags |= keystore.FlagInQuota
		newCharge.keys, newCharge.bytes = 1, int64(r.QuotaBytes)
	}
	charges := []charge{newCharge}
	if _, linked := t.tx.Lookup(dest.Serial, t.tx.DescHash(typ, desc)); !linked {
		charges = append(charges, linkCharge(dest.KeyRecord, 1))
	}
	if err := t.checkQuota(op, destID, charges...); err != nil {
		return nil, err
	}
	if err := t.applyQuota(newCharge); err != nil {
		return nil, err
	}
	// As in add: a key linked only from a volatile keyring is stored
	// here, since addLink leaves it alone.
	if t.tx.IsVolatileLink(dest.Serial, r.Serial) {
		if err := t.put(r); err != nil {
			return nil, err
		}
	}
	if err := t.addLink(dest.KeyRecord, r); err != nil {
		return nil, err
	}
	t.post(dest.serial(), watchqueue.KeyLinked, Serial(r.Serial))
	t.expiring = true

	c := &construction{
		key:       Serial(serial),
		callout:   append([]byte(nil), callout...),
		dest:      dest.serial(),
		builder:   t.p,
		requester: requester.snapshot(),
		done:      make(chan struct{}),
	}
	if err := t.makeAuthority(c); err != nil {
		return nil, err
	}
	t.s.building.put(c)
	return c, nil
}

// constructionDest is construct_get_dest_keyring: the keyring asked for,
// else the assumed authority's destination (with no permission check, so
// that a helper can add to its requester's destination), else the
// caller's thread, process or session keyring, or its user-session
// keyring, which needs Write.
func (t *txn) constructionDest(op string, dest, authDest Serial) (ref, error) {
	if dest != 0 {
		return t.lookup(op, dest, 0, perms.Write)
	}
	if authDest != 0 {
		r, err := t.key(authDest)
		if err != nil {
			return ref{}, err
		}
		return ref{KeyRecord: r, possessed: true}, nil
	}
	p := t.p
	p.mu.Lock()
	have := map[Serial]bool{ThreadKeyring: p.thread != 0, ProcessKeyring: p.process != 0, SessionKeyring: p.session != 0}
	p.mu.Unlock()
	for _, id := range []Serial{ThreadKeyring, ProcessKeyring, SessionKeyring} {
		if have[id] {
			return t.lookup(op, id, 0, perms.Write)
		}
	}
	return t.lookup(op, UserSessionKeyring, 0, perms.Write)
}

// makeAuthority makes c's authority key and the helper's session keyring
// holding it, both in memory, and fills in c's serials and token.
func (t *txn) makeAuthority(c *construction) error {
	var tok [32]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return fmt.Errorf("keyring: making an authority token: %w", err)
	}
	c.token = AuthorityToken(hex.EncodeToString(tok[:]))
	uid, gid := c.requester.cred.UID, c.requester.cred.GID
	sessionSerial, err := t.tx.NewSerial()
	if err != nil {
		return err
	}
	session := &keystore.KeyRecord{
		Serial:      sessionSerial,
		Type:        "keyring",
		Description: fmt.Sprintf("_req.%d", int32(c.key)),
		UID:         uid,
		GID:         gid,
		Perm:        uint32(authSessionMask),
		Flags:       keystore.FlagVolatile,
		CTime:       t.now,
	}
	if err := t.put(session); err != nil {
		return err
	}
	authSerial, err := t.tx.NewSerial()
	if err != nil {
		return err
	}
	auth := &keystore.KeyRecord{
		Serial:      authSerial,
		Type:        authKeyType,
		Description: fmt.Sprintf("%x", int32(c.key)),
		UID:         uid,
		GID:         gid,
		Perm:        uint32(authKeyMask),
		Flags:       keystore.FlagVolatile,
		CTime:       t.now,
		DataLen:     uint32(len(c.callout)),
	}
	if err := t.put(auth); err != nil {
		return err
	}
	if err := t.linkNew(session, auth); err != nil {
		return err
	}
	c.session, c.authority = Serial(sessionSerial), Serial(authSerial)
	return nil
}

// started holds what a committed construction needs until it ends (its
// key, as the kernel's authority holds its target, and the helper's
// session keyring, which holds the authority), arms the store's bound, and describes it for the builder.
func (s *Store) started(c *construction) *Construction {
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.over.Load() {
		return s.describe(c) // ended already (its builder went, or the store closed)
	}
	s.hold(c.key)
	s.hold(c.session)
	c.timer = time.AfterFunc(s.constructionTimeout, func() {
		// Close waits for this (timersMu), and this does nothing once
		// Close has begun.
		s.timersMu.RLock()
		defer s.timersMu.RUnlock()
		select {
		case <-s.closing:
			return
		default:
		}
		if err := s.abandon(context.Background(), c); err != nil {
			s.log.Warn("keyring: negating a construction past its deadline", "key", c.key, "err", err)
		}
	})
	return s.describe(c)
}

// describe is c as its builder sees it.
func (s *Store) describe(c *construction) *Construction {
	r := c.requester
	return &Construction{
		Key:         c.key,
		Authority:   c.authority,
		Token:       c.token,
		Op:          "create",
		Type:        c.keyType(s),
		Description: c.description(s),
		Callout:     append([]byte(nil), c.callout...),
		UID:         r.cred.UID,
		GID:         r.cred.GID,
		Thread:      r.thread,
		Process:     r.process,
		Session:     s.sessionOrUserSession(r),
	}
}

// keyType and description read the key's names back for the builder.
func (c *construction) keyType(s *Store) string {
	typ, _ := c.names(s)
	return typ
}

func (c *construction) description(s *Store) string {
	_, desc := c.names(s)
	return desc
}

func (c *construction) names(s *Store) (typ, desc string) {
	s.db.View(func(tx *keystore.Tx) error {
		if r, err := tx.Key(uint32(c.key)); err == nil && r != nil {
			typ, desc = r.Type, r.Description
		}
		return nil
	})
	return typ, desc
}

// sessionOrUserSession is %S: the requester's session keyring, or its
// user-session keyring when it has none.
func (s *Store) sessionOrUserSession(p *Process) Serial {
	if p.session != 0 {
		return p.session
	}
	var id Serial
	s.db.View(func(tx *keystore.Tx) error {
		id = Serial(tx.Name(keystore.NameUserSession, uidName(p.cred.UID)))
		return nil
	})
	return id
}

// snapshot is a Process that stands for p as it is now (rka->cred): its
// credentials and keyrings, holding nothing and never released, for the
// helper's searches as the requester.
func (p *Process) snapshot() *Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &Process{s: p.s, cred: p.cred.Clone(), session: p.session, thread: p.thread, process: p.process}
}

// CompleteRequest ends a request_key once the helper for key has exited,
// as complete_request_key and the syscall's wait do: if the caller built
// key and it is still under construction, it is negated (ENOKEY, for
// DefaultNegativeTimeout) and the authority spent. Then, as for any
// requester, a key still under construction is waited for, and the key is
// returned, or the error its negative state carries (ENOKEY, or what the
// helper rejected it with), or key_validate's (EKEYREVOKED, EKEYEXPIRED).
func (p *Process) CompleteRequest(ctx context.Context, key Serial) (Serial, error) {
	if c := p.s.building.get(key); c != nil && c.builder == p {
		if err := p.s.abandon(ctx, c); err != nil {
			return 0, err
		}
	}
	return p.constructed(ctx, key)
}

// abandon negates c's key if it is still under construction (ENOKEY,
// the negative timeout, no link), spends the authority, and ends c.
func (s *Store) abandon(ctx context.Context, c *construction) error {
	if c.over.Load() {
		return nil
	}
	err := c.builder.update(ctx, func(t *txn) error {
		r, err := t.tx.Key(uint32(c.key))
		if err != nil {
			return err
		}
		if r == nil || r.Flags&keystore.FlagUnderConstruction == 0 {
			return nil // the helper got there first
		}
		return t.reject(c, r, t.s.negativeTimeout, unix.ENOKEY)
	})
	if err != nil {
		return err
	}
	s.ended(c)
	return nil
}

// reject marks r, c's key, negative with errno for timeout and spends c's
// authority (key_reject_and_link without the link).
func (t *txn) reject(c *construction, r *keystore.KeyRecord, timeout time.Duration, errno unix.Errno) error {
	r.Flags = r.Flags&^keystore.FlagUnderConstruction | keystore.FlagNegative
	r.Reject = uint32(errno)
	r.Expiry = t.now + timeout.Nanoseconds()
	if err := t.put(r); err != nil {
		return err
	}
	t.expiring = true
	t.post(Serial(r.Serial), watchqueue.KeyInstantiated, Serial(-int32(errno)))
	return t.spendAuthority(c)
}

// spendAuthority invalidates c's authority key, as instantiating or
// negating the key does in the kernel.
func (t *txn) spendAuthority(c *construction) error {
	a, err := t.tx.Key(uint32(c.authority))
	if err != nil || a == nil {
		return err
	}
	a.Flags |= keystore.FlagInvalidated
	return t.put(a)
}

// ended is what follows the commit that ended c: the authority is spent,
// the store lets go of what the construction held, and then waiters are
// woken, so that they see all of it.
func (s *Store) ended(c *construction) {
	if c.over.Swap(true) {
		return
	}
	c.timerMu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timerMu.Unlock()
	s.building.remove(c)
	if err := s.release(context.Background(), c.key, c.session); err != nil {
		s.log.Warn("keyring: letting go of a construction", "key", c.key, "err", err)
	}
	close(c.done)
}

// abandonBuilt negates the keys p was building and never completed: p is
// going, as a requester killed while its helper runs.
func (p *Process) abandonBuilt(ctx context.Context) error {
	var errs []error
	for _, c := range p.s.building.all(p) {
		errs = append(errs, p.s.abandon(ctx, c))
	}
	return errors.Join(errs...)
}

// abandonAll ends every construction as the store closes.
func (s *Store) abandonAll(ctx context.Context) error {
	var errs []error
	for _, c := range s.building.all(nil) {
		errs = append(errs, s.abandon(ctx, c))
	}
	return errors.Join(errs...)
}
