//go:build linux

package kcm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/krb5ring"
)

// operation is one row of the table: the code, the name kcm.h gives it,
// whether it changes the store (then it runs in one transaction, with its
// checks, and a failure leaves nothing behind), and the method that reads
// its arguments and serves it. A new operation is one row and one method.
type operation struct {
	op    Op
	name  string
	write bool
	serve func(c *call, ctx context.Context) error
}

// operations are every operation MIT krb5 1.20's client sends. Anything
// else is answered KRB5_CC_NOSUPP, which MIT takes for "not implemented"
// and works around where it can.
var operations = []operation{
	{OpGenNew, "GEN_NEW", false, (*call).genNew},
	{OpInitialize, "INITIALIZE", true, (*call).initialize},
	{OpDestroy, "DESTROY", true, (*call).destroy},
	{OpStore, "STORE", true, (*call).store},
	{OpRetrieve, "RETRIEVE", false, (*call).retrieve},
	{OpGetPrincipal, "GET_PRINCIPAL", false, (*call).getPrincipal},
	{OpGetCredUUIDList, "GET_CRED_UUID_LIST", false, (*call).getCredUUIDList},
	{OpGetCredByUUID, "GET_CRED_BY_UUID", false, (*call).getCredByUUID},
	{OpRemoveCred, "REMOVE_CRED", true, (*call).removeCred},
	{OpGetCacheUUIDList, "GET_CACHE_UUID_LIST", false, (*call).getCacheUUIDList},
	{OpGetCacheByUUID, "GET_CACHE_BY_UUID", false, (*call).getCacheByUUID},
	{OpGetDefaultCache, "GET_DEFAULT_CACHE", false, (*call).getDefaultCache},
	{OpSetDefaultCache, "SET_DEFAULT_CACHE", true, (*call).setDefaultCache},
	{OpGetKDCOffset, "GET_KDC_OFFSET", false, (*call).getKDCOffset},
	{OpSetKDCOffset, "SET_KDC_OFFSET", true, (*call).setKDCOffset},
	{OpGetCredList, "GET_CRED_LIST", false, (*call).getCredList},
	{OpReplace, "REPLACE", true, (*call).replace},
}

var opIndex = func() map[Op]*operation {
	m := make(map[Op]*operation, len(operations))
	for i := range operations {
		m[operations[i].op] = &operations[i]
	}
	return m
}()

// lookupOp is the table's row for op, or nil.
func lookupOp(op Op) *operation { return opIndex[op] }

// call is one request being served: the account of the uid that sent it,
// its collection (acting through the transaction for a write), the
// arguments still to read, and the reply so far.
type call struct {
	srv  *Server
	acct *account
	col  *krb5ring.Collection
	in   args
	out  []byte
}

func (c *call) put32(v uint32) { c.out = binary.BigEndian.AppendUint32(c.out, v) }

func (c *call) putName(name string) { c.out = append(append(c.out, name...), 0) }

// cache reads the name of a cache to read or change, and checks that it
// may be the caller's: another uid's is a cache the caller has not got.
func (c *call) cache() (*krb5ring.Cache, error) {
	name, err := c.in.name()
	if err != nil {
		return nil, err
	}
	if err := checkName(c.acct.uid, name); err != nil {
		if errors.Is(err, errOtherUID) {
			return nil, fmt.Errorf("%w: %w", krb5ring.ErrNotFound, err)
		}
		return nil, err
	}
	return c.col.Cache(name), nil
}

// newCache reads the name of a cache that may be made (INITIALIZE,
// REPLACE): another uid's is KRB5_FCC_INTERNAL, as sssd-kcm refuses it.
func (c *call) newCache() (*krb5ring.Cache, error) {
	name, err := c.in.name()
	if err != nil {
		return nil, err
	}
	if err := checkName(c.acct.uid, name); err != nil {
		if errors.Is(err, errOtherUID) {
			return nil, fmt.Errorf("%w: %w", err, CodeInternal)
		}
		return nil, err
	}
	return c.col.Cache(name), nil
}

// exists reports whether the cache's keyring is in the collection.
func exists(ctx context.Context, k *krb5ring.Cache) (bool, error) {
	_, err := k.Keyring(ctx)
	if errors.Is(err, krb5ring.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// genNew: () -> (name). A fresh name; the cache is made by the
// INITIALIZE or REPLACE that follows.
func (c *call) genNew(ctx context.Context) error {
	if err := c.in.end(); err != nil {
		return err
	}
	for range genNewTries {
		name, err := newName(c.srv.rand, c.acct.uid)
		if err != nil {
			return err
		}
		ok, err := exists(ctx, c.col.Cache(name))
		if err != nil {
			return err
		}
		if !ok {
			c.putName(name)
			return nil
		}
	}
	return fmt.Errorf("kcm: no free cache name in %d tries: %w", genNewTries, CodeInternal)
}

// makes checks that a cache that does not exist yet may be made: the
// uid's cache limit.
func (c *call) makes(ctx context.Context, k *krb5ring.Cache, code Code) error {
	ok, err := exists(ctx, k)
	if err != nil || ok {
		return err
	}
	caches, err := c.col.Caches(ctx)
	if err != nil {
		return err
	}
	if max := c.srv.opts.MaxCaches; len(caches) >= max {
		return fmt.Errorf("kcm: uid %d has %d caches, the limit: %w", c.acct.uid, len(caches), code)
	}
	return nil
}

// fits checks the cache's size against the limit, after the change
// (which the transaction then rolls back if it does not fit).
func (c *call) fits(ctx context.Context, k *krb5ring.Cache, code Code) error {
	recs, err := k.Records(ctx)
	if err != nil {
		return err
	}
	var n int64
	for _, r := range recs {
		n += int64(len(r.Data))
	}
	if max := c.srv.opts.MaxCacheBytes; n > max {
		return fmt.Errorf("kcm: %s would hold %d bytes of credentials, the limit is %d: %w", k.Name(), n, max, code)
	}
	return nil
}

// initialize: (name, princ) -> (). Empties the cache, making it if need
// be, and gives it a principal.
func (c *call) initialize(ctx context.Context) error {
	k, err := c.newCache()
	if err != nil {
		return err
	}
	princ, err := c.in.principal()
	if err != nil {
		return err
	}
	if err := c.in.end(); err != nil {
		return err
	}
	if err := c.makes(ctx, k, CodeInternal); err != nil {
		return err
	}
	return k.Initialize(ctx, princ, nil)
}

// destroy: (name) -> ().
func (c *call) destroy(ctx context.Context) error {
	k, err := c.cache()
	if err != nil {
		return err
	}
	if err := c.in.end(); err != nil {
		return err
	}
	return k.Destroy(ctx)
}

// initialized fails with ErrNotFound (KRB5_FCC_NOFILE) unless the cache
// has a principal.
func initialized(ctx context.Context, k *krb5ring.Cache) error {
	_, err := k.Principal(ctx)
	return err
}

// store: (name, cred) -> ().
func (c *call) store(ctx context.Context) error {
	k, err := c.cache()
	if err != nil {
		return err
	}
	cred, err := c.in.credential()
	if err != nil {
		return err
	}
	if err := c.in.end(); err != nil {
		return err
	}
	if err := initialized(ctx, k); err != nil {
		return err
	}
	if err := k.Store(ctx, &cred); err != nil {
		return err
	}
	return c.fits(ctx, k, CodeInternal)
}

// find returns the first credential of the cache (in its order) that m
// matches with flags, raw and decoded. When m names its server exactly,
// the one key that can hold it is read, not the whole cache: the store
// keeps one credential per server, under the server's name.
func find(ctx context.Context, k *krb5ring.Cache, m *matchCred, flags uint32) (krb5ring.Record, ccache.Credential, error) {
	if m.server != nil && flags&(tcMatchSrvNameOnly|tcDontMatchRealm) == 0 {
		r, err := k.Record(ctx, *m.server)
		if errors.Is(err, krb5ring.ErrCredNotFound) {
			return krb5ring.Record{}, ccache.Credential{}, fmt.Errorf("kcm: %s: %w", k.Name(), CodeNotFound)
		}
		if err != nil {
			return krb5ring.Record{}, ccache.Credential{}, err
		}
		if cred, _, err := ccache.DecodeCredential(r.Data); err == nil && m.matches(flags, &cred) {
			return r, cred, nil
		}
		return krb5ring.Record{}, ccache.Credential{}, fmt.Errorf("kcm: %s: %w", k.Name(), CodeNotFound)
	}
	recs, err := k.Records(ctx)
	if err != nil {
		return krb5ring.Record{}, ccache.Credential{}, err
	}
	for _, r := range recs {
		cred, _, err := ccache.DecodeCredential(r.Data)
		if err != nil {
			continue // not a record: MIT's cursor would fail on it; skip it here
		}
		if m.matches(flags, &cred) {
			return r, cred, nil
		}
	}
	return krb5ring.Record{}, ccache.Credential{}, fmt.Errorf("kcm: %s: %w", k.Name(), CodeNotFound)
}

// matchArgs reads the flags and the matching credential of RETRIEVE and
// REMOVE_CRED.
func (c *call) matchArgs() (*krb5ring.Cache, uint32, matchCred, error) {
	k, err := c.cache()
	if err != nil {
		return nil, 0, matchCred{}, err
	}
	flags, err := c.in.u32("flags")
	if err != nil {
		return nil, 0, matchCred{}, err
	}
	m, err := c.in.mcred()
	if err != nil {
		return nil, 0, matchCred{}, err
	}
	return k, flags, m, c.in.end()
}

// retrieve: (name, flags, mcred) -> (cred). The first matching credential,
// in the cache's order, as MIT's own retrieval by iteration picks it.
func (c *call) retrieve(ctx context.Context) error {
	k, flags, m, err := c.matchArgs()
	if err != nil {
		return err
	}
	if err := initialized(ctx, k); err != nil {
		return err
	}
	r, _, err := find(ctx, k, &m, flags)
	if err != nil {
		return err
	}
	c.out = append(c.out, r.Data...)
	return nil
}

// removeCred: (name, flags, mcred) -> ().
func (c *call) removeCred(ctx context.Context) error {
	k, flags, m, err := c.matchArgs()
	if err != nil {
		return err
	}
	if err := initialized(ctx, k); err != nil {
		return err
	}
	_, cred, err := find(ctx, k, &m, flags)
	if err != nil {
		return err
	}
	return k.RemoveCred(ctx, cred.Server)
}

// getPrincipal: (name) -> (princ).
func (c *call) getPrincipal(ctx context.Context) error {
	k, err := c.cache()
	if err != nil {
		return err
	}
	if err := c.in.end(); err != nil {
		return err
	}
	p, err := k.Principal(ctx)
	if err != nil {
		return err
	}
	c.out, err = ccache.AppendPrincipal(c.out, p)
	return err
}

// records reads a cache name and returns the cache's credentials.
func (c *call) records(ctx context.Context) ([]krb5ring.Record, error) {
	k, err := c.cache()
	if err != nil {
		return nil, err
	}
	if err := initialized(ctx, k); err != nil {
		return nil, err
	}
	return k.Records(ctx)
}

// getCredUUIDList: (name) -> (uuid, ...).
func (c *call) getCredUUIDList(ctx context.Context) error {
	recs, err := c.records(ctx)
	if err != nil {
		return err
	}
	if err := c.in.end(); err != nil {
		return err
	}
	for _, r := range recs {
		u := credUUID(r.Key)
		c.out = append(c.out, u[:]...)
	}
	return nil
}

// getCredByUUID: (name, uuid) -> (cred).
func (c *call) getCredByUUID(ctx context.Context) error {
	recs, err := c.records(ctx)
	if err != nil {
		return err
	}
	want, err := c.in.uuid()
	if err != nil {
		return err
	}
	if err := c.in.end(); err != nil {
		return err
	}
	for _, r := range recs {
		if credUUID(r.Key) == want {
			c.out = append(c.out, r.Data...)
			return nil
		}
	}
	return fmt.Errorf("kcm: no credential %s: %w", want, CodeEnd)
}

// getCredList: (name) -> (count, count*{len, cred}). A list longer than
// MIT's client takes is answered KRB5_CC_NOSUPP, after which it asks for
// the credentials one by one (GET_CRED_UUID_LIST, GET_CRED_BY_UUID).
func (c *call) getCredList(ctx context.Context) error {
	recs, err := c.records(ctx)
	if err != nil {
		return err
	}
	if err := c.in.end(); err != nil {
		return err
	}
	size := 4
	for _, r := range recs {
		size += 4 + len(r.Data)
	}
	if size > maxReplySize {
		return fmt.Errorf("kcm: a list of %d bytes is more than a reply can hold: %w", size, CodeUnsupported)
	}
	c.out = slices.Grow(c.out, size)
	c.put32(uint32(len(recs)))
	for _, r := range recs {
		c.put32(uint32(len(r.Data)))
		c.out = append(c.out, r.Data...)
	}
	return nil
}

// caches returns the collection's initialized caches, the primary first
// if it is one, with their keyrings.
func (c *call) caches(ctx context.Context) ([]*krb5ring.Cache, error) {
	all, err := c.col.Caches(ctx)
	if err != nil {
		return nil, err
	}
	var live []*krb5ring.Cache
	for _, k := range all {
		if initialized(ctx, k) == nil {
			live = append(live, k)
		}
	}
	return live, nil
}

// getCacheUUIDList: () -> (uuid, ...). KRB5_FCC_NOFILE when there is no
// cache, which MIT takes for an empty collection.
func (c *call) getCacheUUIDList(ctx context.Context) error {
	if err := c.in.end(); err != nil {
		return err
	}
	caches, err := c.caches(ctx)
	if err != nil {
		return err
	}
	if len(caches) == 0 {
		return fmt.Errorf("kcm: uid %d has no cache: %w", c.acct.uid, CodeNoFile)
	}
	for _, k := range caches {
		ring, err := k.Keyring(ctx)
		if err != nil {
			continue // gone meanwhile
		}
		u := cacheUUID(ring)
		c.out = append(c.out, u[:]...)
	}
	return nil
}

// getCacheByUUID: (uuid) -> (name). KRB5_CC_END for none, which MIT's
// collection cursor skips as a cache deleted meanwhile.
func (c *call) getCacheByUUID(ctx context.Context) error {
	want, err := c.in.uuid()
	if err != nil {
		return err
	}
	if err := c.in.end(); err != nil {
		return err
	}
	all, err := c.col.Caches(ctx)
	if err != nil {
		return err
	}
	for _, k := range all {
		if ring, err := k.Keyring(ctx); err == nil && cacheUUID(ring) == want {
			c.putName(k.Name().Subsidiary)
			return nil
		}
	}
	return fmt.Errorf("kcm: no cache %s: %w", uuid.UUID(want), CodeEnd)
}

// getDefaultCache: () -> (name). The collection's primary; if that is not
// an initialized cache (destroyed, or never made) but others are, the
// first of them, as sssd-kcm answers once its default is gone; with none
// at all, the primary's name ("<uid>" at first), for kinit to make.
func (c *call) getDefaultCache(ctx context.Context) error {
	if err := c.in.end(); err != nil {
		return err
	}
	primary, err := c.col.Primary(ctx)
	if err != nil {
		return err
	}
	if checkName(c.acct.uid, primary) != nil {
		primary = defaultName(c.acct.uid)
	}
	if initialized(ctx, c.col.Cache(primary)) != nil {
		if caches, err := c.caches(ctx); err == nil && len(caches) > 0 {
			primary = caches[0].Name().Subsidiary
		}
	}
	c.putName(primary)
	return nil
}

// setDefaultCache: (name) -> (). The cache must exist; one that does not
// (another uid's name included) is KRB5_FCC_INTERNAL, as sssd-kcm answers
// kswitch to it.
func (c *call) setDefaultCache(ctx context.Context) error {
	k, err := c.cache()
	if errors.Is(err, errOtherUID) {
		return fmt.Errorf("%w: %w", err, CodeInternal)
	}
	if err != nil {
		return err
	}
	if err := c.in.end(); err != nil {
		return err
	}
	if ok, err := exists(ctx, k); err != nil || !ok {
		return errors.Join(err, fmt.Errorf("kcm: no cache %s: %w", k.Name(), CodeInternal))
	}
	return c.col.Switch(ctx, k.Name().Subsidiary)
}

// getKDCOffset: (name) -> (offset). Seconds; 0 when the cache has none.
func (c *call) getKDCOffset(ctx context.Context) error {
	k, err := c.cache()
	if err != nil {
		return err
	}
	if err := c.in.end(); err != nil {
		return err
	}
	o, _, err := k.TimeOffset(ctx)
	if err != nil {
		return err
	}
	c.put32(uint32(o.Seconds))
	return nil
}

// setKDCOffset: (name, offset) -> ().
func (c *call) setKDCOffset(ctx context.Context) error {
	k, err := c.cache()
	if err != nil {
		return err
	}
	off, err := c.in.u32("offset")
	if err != nil {
		return err
	}
	if err := c.in.end(); err != nil {
		return err
	}
	return k.SetTimeOffset(ctx, krb5ring.TimeOffset{Seconds: int32(off)})
}

// replace: (name, offset, princ, count, count*{len, cred}) -> (). The
// whole cache in one transaction: a reader sees the old one or the new
// one, never an empty cache. A cache over the size limit is answered
// KRB5_CC_WRITE, not sssd's KRB5_FCC_INTERNAL: MIT takes that for "not
// implemented" and would replace the cache by hand, emptying it first
// and storing until the limit.
func (c *call) replace(ctx context.Context) error {
	k, err := c.newCache()
	if err != nil {
		return err
	}
	off, err := c.in.u32("offset")
	if err != nil {
		return err
	}
	princ, err := c.in.principal()
	if err != nil {
		return err
	}
	// A credential takes at least its 4-byte length.
	n, err := c.in.count("credential count", 4)
	if err != nil {
		return err
	}
	f := &ccache.File{Version: ccache.Version4, DefaultPrincipal: princ}
	f.SetTimeOffset(int32(off), 0)
	for range n {
		cred, err := c.in.sizedCredential()
		if err != nil {
			return err
		}
		f.Credentials = append(f.Credentials, cred)
	}
	if err := c.in.end(); err != nil {
		return err
	}
	if err := c.makes(ctx, k, CodeInternal); err != nil {
		return err
	}
	if err := k.Replace(ctx, f); err != nil {
		return err
	}
	return c.fits(ctx, k, CodeWrite)
}
