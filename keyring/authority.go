//go:build linux

package keyring

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// A request_key helper acts under an authority (the kernel's
// cred->request_key_auth): while it is assumed and not spent, the helper
// may instantiate, negate or reject that one key, @a names the authority
// key, and the requester's keyrings are searched and possessed as if they
// were the helper's, with the requester's credentials. Instantiating,
// negating or rejecting the key spends the authority, for every process
// that assumed it.

// AssumeAuthority is KEYCTL_ASSUME_AUTHORITY for a helper: it takes on the
// authority to construct key, and returns the authority key's serial. Key
// 0 gives up the authority the process has (and returns 0); a negative key
// is EINVAL.
//
// The kernel grants the authority to a process that possesses the
// authority key, which only the helper it started does. Here the helper
// proves it with the construction's token, which only the builder that
// started it was given, and must have the requester's uid: a wrong token,
// another uid, or a key not under construction is ENOKEY, as the kernel
// answers for an authority key it cannot find. A process with no session
// keyring gets the authority's "_req.<key>" keyring as its session, as
// the kernel's helper runs in it.
func (p *Process) AssumeAuthority(ctx context.Context, key Serial, token AuthorityToken) (Serial, error) {
	const op = "keyctl_assume_authority"
	switch {
	case key < 0:
		return 0, errKey(op, key, unix.EINVAL, "not a key")
	case key == 0:
		p.setAuthority(nil)
		return 0, nil
	}
	c := p.s.building.get(key)
	if c == nil || c.requester.cred.UID != p.cred.UID ||
		subtle.ConstantTimeCompare([]byte(c.token), []byte(token)) != 1 {
		return 0, errKey(op, key, unix.ENOKEY, "no authority to construct it")
	}
	err := p.read(ctx, func(t *txn) error {
		if !t.authorityValid(c) {
			return errKey(op, key, unix.EKEYREVOKED, "the authority is spent")
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	p.setAuthority(c)
	if p.sessionKeyring() == 0 {
		if err := p.adopt(ctx, c.session); err != nil {
			return 0, err
		}
	}
	return c.authority, nil
}

// assumedAuthority is the construction whose authority p has assumed, or nil.
func (p *Process) assumedAuthority() *construction {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.authority
}

// setAuthority assumes c's authority (nil gives it up). What the process
// possesses changes with it, as with its keyrings, so its cached answers
// go.
func (p *Process) setAuthority(c *construction) {
	p.mu.Lock()
	p.authority = c
	p.mu.Unlock()
	p.cache.rootsChanged()
}

// authorityValid reports whether c's authority is still good in this
// transaction's view: its authority key neither invalidated nor revoked
// (key_validate on cred->request_key_auth).
func (t *txn) authorityValid(c *construction) bool {
	if c.over.Load() {
		return false
	}
	a, err := t.tx.Key(uint32(c.authority))
	return err == nil && a != nil && a.Flags&(keystore.FlagInvalidated|keystore.FlagRevoked) == 0
}

// validAuthority is the authority t's process has assumed, if it is good.
func (t *txn) validAuthority() *construction {
	if c := t.p.assumedAuthority(); c != nil && t.authorityValid(c) {
		return c
	}
	return nil
}

// asRequester is t acting as c's requester: its credentials and keyrings,
// for searches and possession through the authority. It must only read.
// It keeps possession answers of its own (lookup.go's possessed and
// reach), since the requester's are not t's, and it is kept on t, so that
// a transaction that asks about many keys walks the requester's keyrings
// once.
func (t *txn) asRequester(c *construction) *txn {
	if rt := t.requester; rt != nil && rt.p == c.requester {
		return rt
	}
	rt := *t
	rt.p = c.requester
	rt.possessed, rt.reach, rt.requester = nil, nil, nil
	t.requester = &rt
	return &rt
}

// possessedThroughAuthority reports whether r is possessed by the
// requester of the authority t's process holds: an assumed authority
// extends possession to the requester's keyrings, never to authority
// keys themselves.
func (t *txn) possessedThroughAuthority(r *keystore.KeyRecord) bool {
	if r.Type == authKeyType {
		return false
	}
	c := t.validAuthority()
	return c != nil && t.asRequester(c).possesses(r)
}

// Instantiate is KEYCTL_INSTANTIATE: the helper gives key, which it has
// the authority to construct, its payload, and links it into ring if ring
// is not 0. A positive ring needs Write (the helper possesses what the
// requester does); a special id names the requester's destination
// keyring, @a excepted (EINVAL). Without the authority for key, EPERM; a
// key no longer under construction, EBUSY; a payload the type refuses,
// EINVAL; a restricted ring, EPERM; over quota, EDQUOT. Posts
// KeyInstantiated on key and KeyLinked on ring; spends the authority.
func (p *Process) Instantiate(ctx context.Context, key Serial, payload []byte, ring Serial) error {
	const op = "keyctl_instantiate"
	if len(payload) > MaxAddPayload {
		return fmt.Errorf("keyring: %s: payload of %d bytes, limit %d: %w", op, len(payload), MaxAddPayload, unix.EINVAL)
	}
	c := p.assumedAuthority()
	if c == nil || c.key != key {
		return errKey(op, key, unix.EPERM, "no authority to construct it assumed")
	}
	err := p.update(ctx, func(t *txn) error {
		dest, err := t.instantiationKeyring(op, c, ring)
		if err != nil {
			return err
		}
		r, err := t.key(key)
		if err != nil {
			return err
		}
		kt := keyTypes[r.Type]
		if err := checkPayload(op, kt, payload); err != nil {
			return err
		}
		if err := t.checkInstantiationLink(op, ring, dest, r); err != nil {
			return err
		}
		if r.Flags&keystore.FlagUnderConstruction == 0 {
			return errKey(op, key, unix.EBUSY, "not under construction")
		}
		// The payload is charged if the key is (key_payload_reserve): a
		// key made uncharged (Store.ProcessNotInQuota) stays so.
		payloadBytes := kt.chargeBytes(len(payload))
		if r.Flags&keystore.FlagInQuota != 0 {
			grow := charge{uid: r.UID, bytes: int64(payloadBytes)}
			if err := t.checkQuota(op, key, grow); err != nil {
				return err
			}
			if err := t.applyQuota(grow); err != nil {
				return err
			}
		}
		r.Flags &^= keystore.FlagUnderConstruction
		r.QuotaBytes += payloadBytes
		r.DataLen = uint32(len(payload))
		r.Expiry = 0
		if err := t.put(r); err != nil {
			return err
		}
		if err := t.tx.PutPayload(r, payload); err != nil {
			return err
		}
		t.post(key, watchqueue.KeyInstantiated, 0)
		if err := t.linkInstantiated(dest, r); err != nil {
			return err
		}
		return t.spendAuthority(c)
	})
	if err != nil {
		return err
	}
	p.setAuthority(nil) // keyctl_change_reqkey_auth(NULL)
	p.s.ended(c)
	return nil
}

// Negate is KEYCTL_NEGATE: Reject with ENOKEY.
func (p *Process) Negate(ctx context.Context, key Serial, timeout time.Duration, ring Serial) error {
	return p.Reject(ctx, key, timeout, unix.ENOKEY, ring)
}

// Reject is KEYCTL_REJECT: the helper makes key, which it has the
// authority to construct, negative: requests for it fail with errno until
// timeout has passed (0: at once), and it is linked into ring as for
// Instantiate. errno must be a plain error number, 1..4094 and not one of
// the kernel's restart codes (EINVAL); without the authority, EPERM; a
// restricted ring, EPERM. Posts KeyInstantiated with -errno on key, and
// KeyLinked on ring; spends the authority.
func (p *Process) Reject(ctx context.Context, key Serial, timeout time.Duration, errno unix.Errno, ring Serial) error {
	const op = "keyctl_reject"
	if errno == 0 || errno >= maxErrno || isRestartErrno(errno) {
		return fmt.Errorf("keyring: %s %v: error %d: %w", op, key, uint32(errno), unix.EINVAL)
	}
	if timeout < 0 {
		return fmt.Errorf("keyring: %s %v: timeout %v: %w", op, key, timeout, unix.EINVAL)
	}
	c := p.assumedAuthority()
	if c == nil || c.key != key {
		return errKey(op, key, unix.EPERM, "no authority to construct it assumed")
	}
	err := p.update(ctx, func(t *txn) error {
		dest, err := t.instantiationKeyring(op, c, ring)
		if err != nil {
			return err
		}
		if dest.KeyRecord != nil && dest.Flags&keystore.FlagRestricted != 0 {
			return errKey(op, ring, unix.EPERM, "keyring is restricted")
		}
		r, err := t.key(key)
		if err != nil {
			return err
		}
		if err := t.checkInstantiationLink(op, ring, dest, r); err != nil {
			return err
		}
		if r.Flags&keystore.FlagUnderConstruction == 0 {
			return errKey(op, key, unix.EBUSY, "not under construction")
		}
		if err := t.reject(c, r, timeout.Truncate(time.Second), errno); err != nil {
			return err
		}
		return t.linkInstantiated(dest, r)
	})
	if err != nil {
		return err
	}
	p.setAuthority(nil)
	p.s.ended(c)
	return nil
}

// maxErrno is the kernel's MAX_ERRNO + 1: larger numbers are not errors.
const maxErrno = 4095

// isRestartErrno reports the kernel's internal restart codes
// (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK),
// which reject refuses.
func isRestartErrno(e unix.Errno) bool {
	return e == 512 || e == 513 || e == 514 || e == 516
}

// instantiationKeyring is get_instantiation_keyring: none for 0; a
// positive id looked up for Write; @a is EINVAL; another special id names
// the requester's destination keyring (rka->dest_keyring); anything else
// is ENOKEY. A ref with no record is no keyring.
func (t *txn) instantiationKeyring(op string, c *construction, ring Serial) (ref, error) {
	switch {
	case ring == 0:
		return ref{}, nil
	case ring > 0:
		return t.lookup(op, ring, 0, perms.Write)
	case ring == ReqKeyAuthKey:
		return ref{}, errKey(op, ring, unix.EINVAL, "the authority key is no keyring")
	case ring >= RequestorKeyring:
		if c.dest == 0 {
			return ref{}, nil
		}
		r, err := t.key(c.dest)
		if err != nil {
			return ref{}, err
		}
		return ref{KeyRecord: r, possessed: true}, nil
	}
	return ref{}, errKey(op, ring, unix.ENOKEY, "not a key id")
}

// checkInstantiationLink checks that key may be linked into dest, if there
// is one: a keyring, not revoked, not restricted, within its owner's
// quota for one more link.
func (t *txn) checkInstantiationLink(op string, ring Serial, dest ref, key *keystore.KeyRecord) error {
	if dest.KeyRecord == nil {
		return nil
	}
	if !dest.IsKeyring() {
		return errKey(op, ring, unix.ENOTDIR, "not a keyring")
	}
	if dest.Flags&keystore.FlagRevoked != 0 {
		return errKey(op, ring, unix.EKEYREVOKED, "")
	}
	if err := t.checkRestriction(op, ring, dest.KeyRecord); err != nil {
		return err
	}
	if l, linked := t.tx.Lookup(dest.Serial, t.tx.RecordHash(key)); !linked || l.Key != key.Serial {
		if !linked {
			return t.checkQuota(op, ring, linkCharge(dest.KeyRecord, 1))
		}
	}
	return nil
}

// linkInstantiated links a key just instantiated or negated into dest, if
// there is one, and posts KeyLinked on it.
func (t *txn) linkInstantiated(dest ref, key *keystore.KeyRecord) error {
	if dest.KeyRecord == nil {
		return nil
	}
	d, err := t.key(dest.serial()) // instantiating may have changed it
	if err != nil {
		return err
	}
	if err := t.addLink(d, key); err != nil {
		return err
	}
	t.post(dest.serial(), watchqueue.KeyLinked, Serial(key.Serial))
	return nil
}

// searchProcessKeyrings is search_process_keyrings_rcu for request_key:
// the caller's thread, process and session keyrings (its user-session
// keyring when it has no session), then, under a good authority, the
// requester's, as the requester. A key found wins; then a negative key's
// ENOKEY or "nothing" (errNotFound), whichever keyring said it last; then
// other errors. Expired keys are passed over, as if not there.
func (t *txn) searchProcessKeyrings(op, typ, desc string) (Serial, error) {
	id, err := t.searchCredKeyrings(op, typ, desc)
	if err == nil {
		return id, nil
	}
	if c := t.validAuthority(); c != nil && typ != authKeyType {
		id, aerr := t.asRequester(c).searchCredKeyrings(op, typ, desc)
		if aerr == nil {
			return id, nil
		}
		err = aerr
	}
	return 0, err
}

// searchCredKeyrings is search_cred_keyrings_rcu: t's process's keyrings.
func (t *txn) searchCredKeyrings(op, typ, desc string) (Serial, error) {
	var noKey, other error
	for _, root := range t.searchRoots() {
		id, err := t.searchKeyring(op, root, typ, desc, true)
		switch {
		case err == nil:
			return id, nil
		case errors.Is(err, unix.ENOKEY):
			noKey = err
		default:
			other = err
		}
	}
	if noKey != nil {
		return 0, noKey
	}
	if other != nil {
		return 0, other
	}
	return 0, fmt.Errorf("keyring: %s %s:%s: %w", op, typ, desc, errNotFound)
}

// resolveAuthority resolves @a, the assumed authority's key, and
// RequestorKeyring, its requester's destination keyring. Without an
// authority both are ENOKEY; a spent authority's requester keyring is
// EKEYREVOKED (its key is looked up, and found spent, as any other).
func (t *txn) resolveAuthority(op string, id Serial) (Serial, bool, error) {
	c := t.p.assumedAuthority()
	if c == nil {
		return 0, false, errKey(op, id, unix.ENOKEY, "no authority assumed")
	}
	if id == ReqKeyAuthKey {
		return c.authority, true, nil
	}
	if !t.authorityValid(c) {
		return 0, false, errKey(op, id, unix.EKEYREVOKED, "the authority is spent")
	}
	if c.dest == 0 {
		return 0, false, errKey(op, id, unix.ENOKEY, "the request has no destination keyring")
	}
	return c.dest, true, nil
}

// calloutInfo is what reading an authority key gives: its construction's
// callout information.
func (t *txn) calloutInfo(op string, auth *keystore.KeyRecord) ([]byte, error) {
	c := t.s.building.byAuthority(Serial(auth.Serial))
	if c == nil {
		return nil, errKey(op, Serial(auth.Serial), unix.EKEYREVOKED, "the authority is spent")
	}
	return append([]byte(nil), c.callout...), nil
}
