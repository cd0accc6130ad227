//go:build linux

package keyring

import (
	"context"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// Thread and process keyrings belong to a Process and live in memory only
// (keystore.FlagVolatile): they never reach the file, and keys they alone
// hold are collected when the Process is released, or when the store is
// next opened after a crash. A Process stands for one thread here, so its
// thread and process keyrings are two keyrings with the same lifetime.

// create makes the thread or process keyrings among ids that the process
// does not have yet, as the kernel's lookup does with KEY_LOOKUP_CREATE.
// (User keyrings are made where they are resolved: see userKeyring.)
func (p *Process) create(ctx context.Context, ids ...Serial) error {
	for _, id := range ids {
		if id != ThreadKeyring && id != ProcessKeyring {
			continue
		}
		if err := p.createVolatile(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (p *Process) createVolatile(ctx context.Context, id Serial) error {
	p.createMu.Lock()
	defer p.createMu.Unlock()
	slot, desc := &p.thread, "_tid"
	if id == ProcessKeyring {
		slot, desc = &p.process, "_pid"
	}
	p.mu.Lock()
	have := *slot
	p.mu.Unlock()
	if have != 0 {
		return nil
	}
	var made Serial
	err := p.update(ctx, func(t *txn) error {
		serial, err := t.tx.NewSerial()
		if err != nil {
			return err
		}
		r := &keystore.KeyRecord{
			Serial:      serial,
			Type:        "keyring",
			Description: desc,
			UID:         t.p.cred.UID,
			GID:         t.p.cred.GID,
			Perm:        uint32(perms.DefaultProcessKeyring),
			Flags:       keystore.FlagVolatile,
			CTime:       t.now,
		}
		made = Serial(r.Serial)
		return t.put(r)
	})
	if err != nil {
		return err
	}
	p.s.hold(made)
	p.mu.Lock()
	*slot = made
	p.mu.Unlock()
	p.cache.rootsChanged() // keys it holds are possessed now
	return nil
}

// searchRoots are the keyrings possession and request_key search from, in
// the kernel's order: thread, process, then session (or user-session).
func (t *txn) searchRoots() []Serial {
	p := t.p
	p.mu.Lock()
	roots := []Serial{p.thread, p.process, p.session}
	p.mu.Unlock()
	if roots[2] == 0 {
		roots[2] = Serial(t.tx.Name(keystore.NameUserSession, uidName(p.cred.UID)))
	}
	out := roots[:0]
	for _, r := range roots {
		if r != 0 {
			out = append(out, r)
		}
	}
	return out
}
