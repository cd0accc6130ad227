//go:build linux

package secretservice

import (
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5"
)

// openSession is Service.OpenSession: plain, or the DH exchange.
func (p *Provider) openSession(c *call) ([]any, error) {
	alg, _ := c.args[0].(string)
	input, _ := c.args[1].(dbus.Variant)
	switch alg {
	case algPlain:
		s := p.sessions.open(c.sender, nil)
		return []any{dbus.MakeVariant(""), s.path}, nil
	case algDH:
		peer, ok := input.Value().([]byte)
		if !ok {
			return nil, dbusError(errInvalidArgs, "the "+algDH+" input is the client's public key, ay")
		}
		pair, err := newDHKeyPair(p.random)
		if err != nil {
			return nil, err
		}
		key, err := pair.sessionKey(peer)
		if err != nil {
			return nil, dbusError(errInvalidArgs, err.Error())
		}
		s := p.sessions.open(c.sender, key)
		return []any{dbus.MakeVariant(pair.publicBytes()), s.path}, nil
	}
	return nil, dbusError(errNotSupported, fmt.Sprintf("session algorithm %q is not supported", alg))
}

// closeSession is Session.Close.
func (p *Provider) closeSession(c *call) ([]any, error) {
	if !p.sessions.close(c.path, c.sender) {
		return nil, dbusError(errNoSession, "no session "+string(c.path)+" of this connection")
	}
	return nil, nil
}

// createCollection is Service.CreateCollection. The collection is named
// after its label (a number appended if that is taken); an alias that
// names a collection already returns that one, as gnome-keyring does.
func (p *Provider) createCollection(c *call) ([]any, error) {
	props, _ := c.args[0].(map[string]dbus.Variant)
	alias, _ := c.args[1].(string)
	if alias != "" {
		p.mu.Lock()
		target, ok := p.aliases[alias]
		p.mu.Unlock()
		if ok {
			if _, err := p.collection(c, object{service: target}); err == nil {
				return []any{collectionPath(target), noPrompt}, nil
			}
		}
	}
	label := ""
	if v, ok := props[propCollectLabel]; ok {
		if label, ok = v.Value().(string); !ok {
			return nil, dbusError(errInvalidArgs, propCollectLabel+" is a string")
		}
	}
	base := strings.TrimLeft(label, ".")
	if base == "" {
		base = "collection"
	}
	existing, err := p.st.Services(c.ctx)
	if err != nil {
		return nil, err
	}
	name := base
	for i := 2; slices.Contains(existing, name); i++ {
		name = fmt.Sprintf("%s %d", base, i)
	}
	if err := p.st.CreateService(c.ctx, name); err != nil {
		return nil, err
	}
	p.mu.Lock()
	if label != "" {
		p.labels[name] = label
	}
	if alias != "" {
		p.aliases[alias] = name
	}
	p.mu.Unlock()
	return []any{collectionPath(name), noPrompt}, nil
}

// searchAll is Service.SearchItems: every collection's matching items,
// split by whether their collection is locked.
func (p *Provider) searchAll(c *call) ([]any, error) {
	attrs, _ := c.args[0].(map[string]string)
	names, err := p.st.Services(c.ctx)
	if err != nil {
		return nil, err
	}
	unlocked, locked := []dbus.ObjectPath{}, []dbus.ObjectPath{}
	for _, name := range names {
		paths, err := p.itemPaths(c, name, attrs)
		if err != nil {
			return nil, err
		}
		if p.isLocked(name) {
			locked = append(locked, paths...)
		} else {
			unlocked = append(unlocked, paths...)
		}
	}
	return []any{unlocked, locked}, nil
}

// unlock is Service.Unlock: no prompt, since the store is open. It
// unlocks the collections the objects are or are in, and answers every
// object that exists as unlocked.
func (p *Provider) unlock(c *call) ([]any, error) { return p.setLocked(c, false) }

// lock is Service.Lock: the collections the objects are or are in refuse
// their secrets until unlocked.
func (p *Provider) lock(c *call) ([]any, error) { return p.setLocked(c, true) }

func (p *Provider) setLocked(c *call, lock bool) ([]any, error) {
	paths, _ := c.args[0].([]dbus.ObjectPath)
	done := []dbus.ObjectPath{}
	var changed []string
	for _, path := range paths {
		o, ok := parsePath(path)
		if !ok || (o.kind != objCollection && o.kind != objItem) {
			continue
		}
		name, err := p.collection(c, object{service: o.service, alias: o.alias})
		if err != nil {
			continue
		}
		if o.kind == objItem {
			if _, err := p.item(c, o); err != nil {
				continue
			}
		}
		p.mu.Lock()
		if p.locked[name] != lock {
			p.locked[name] = lock
			changed = append(changed, name)
		}
		p.mu.Unlock()
		done = append(done, path)
	}
	for _, name := range changed {
		p.lockChanged(name)
	}
	return []any{done, noPrompt}, nil
}

// getSecrets is Service.GetSecrets: the secrets of the items that exist
// and are unlocked; others are left out, as the API says.
func (p *Provider) getSecrets(c *call) ([]any, error) {
	paths, _ := c.args[0].([]dbus.ObjectPath)
	sessPath, _ := c.args[1].(dbus.ObjectPath)
	s, err := p.sessions.get(sessPath, c.sender)
	if err != nil {
		return nil, err
	}
	out := make(map[dbus.ObjectPath]secretStruct, len(paths))
	for _, path := range paths {
		o, ok := parsePath(path)
		if !ok || o.kind != objItem {
			continue
		}
		it, err := p.item(c, o)
		if err != nil || p.isLocked(it.Service) {
			continue
		}
		enc, err := s.encode(it.Secret, it.ContentType, p.random)
		if err != nil {
			return nil, err
		}
		out[path] = enc
	}
	return []any{out}, nil
}

// readAlias is Service.ReadAlias: the collection, or "/" for none.
func (p *Provider) readAlias(c *call) ([]any, error) {
	alias, _ := c.args[0].(string)
	p.mu.Lock()
	target, ok := p.aliases[alias]
	p.mu.Unlock()
	if !ok {
		return []any{noPrompt}, nil
	}
	if _, err := p.collection(c, object{service: target}); err != nil {
		return []any{noPrompt}, nil
	}
	return []any{collectionPath(target)}, nil
}

// setAlias is Service.SetAlias; "/" removes the alias.
func (p *Provider) setAlias(c *call) ([]any, error) {
	alias, _ := c.args[0].(string)
	path, _ := c.args[1].(dbus.ObjectPath)
	if alias == "" {
		return nil, dbusError(errInvalidArgs, "empty alias")
	}
	if path == noPrompt {
		p.mu.Lock()
		delete(p.aliases, alias)
		p.mu.Unlock()
		return nil, nil
	}
	o, ok := parsePath(path)
	if !ok || o.kind != objCollection {
		return nil, dbusError(errNoSuchObject, "no collection "+string(path))
	}
	name, err := p.collection(c, o)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.aliases[alias] = name
	p.mu.Unlock()
	return nil, nil
}

// newAccount names an item made over D-Bus: 16 random hex digits, as
// the API gives items no name of their own.
func (p *Provider) newAccount() (string, error) {
	var b [8]byte
	if _, err := io.ReadFull(p.random, b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
