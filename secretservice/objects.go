//go:build linux

package secretservice

import (
	"errors"
	"fmt"
	"slices"

	"github.com/godbus/dbus/v5"

	"github.com/keyctl-go/keyctl-go/secrets"
)

// collection resolves the collection a call's object names (through its
// alias, if named by one) and checks that it exists.
func (p *Provider) collection(c *call, o object) (string, error) {
	name := o.service
	if o.alias != "" {
		p.mu.Lock()
		target, ok := p.aliases[o.alias]
		p.mu.Unlock()
		if !ok {
			return "", dbusError(errNoSuchObject, "no collection has the alias "+o.alias)
		}
		name = target
	}
	names, err := p.st.Services(c.ctx)
	if err != nil {
		return "", err
	}
	if !slices.Contains(names, name) {
		return "", dbusError(errNoSuchObject, "no collection "+name)
	}
	return name, nil
}

// item resolves the item a call's object names, secret included.
func (p *Provider) item(c *call, o object) (secrets.Item, error) {
	name := o.service
	if o.alias != "" {
		p.mu.Lock()
		name = p.aliases[o.alias]
		p.mu.Unlock()
	}
	if name == "" || o.account == "" {
		return secrets.Item{}, dbusError(errNoSuchObject, fmt.Sprintf("no item %s", c.path))
	}
	it, err := p.st.Lookup(c.ctx, name, o.account)
	if errors.Is(err, secrets.ErrNotFound) {
		return secrets.Item{}, dbusError(errNoSuchObject, fmt.Sprintf("no item %s", c.path))
	}
	return it, err
}

func (p *Provider) isLocked(service string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.locked[service]
}

// unlocked refuses a locked collection's secrets and changes.
func (p *Provider) unlocked(service string) error {
	if p.isLocked(service) {
		return dbusError(errIsLocked, "the collection "+service+" is locked")
	}
	return nil
}

// collectionPaths lists every collection's path.
func (p *Provider) collectionPaths(c *call) ([]dbus.ObjectPath, error) {
	names, err := p.st.Services(c.ctx)
	if err != nil {
		return nil, err
	}
	paths := make([]dbus.ObjectPath, 0, len(names))
	for _, n := range names {
		paths = append(paths, collectionPath(n))
	}
	return paths, nil
}

// itemPaths lists a collection's items' paths, those matching attrs.
func (p *Provider) itemPaths(c *call, service string, attrs map[string]string) ([]dbus.ObjectPath, error) {
	items, err := p.st.Find(c.ctx, service, attrs)
	if err != nil {
		return nil, err
	}
	paths := make([]dbus.ObjectPath, 0, len(items))
	for _, it := range items {
		paths = append(paths, itemPath(service, it.Account))
	}
	return paths, nil
}

// collectionLabel is the label a collection shows: one set over D-Bus
// while the provider runs, else its name ("Login" for login, as
// gnome-keyring labels it).
func (p *Provider) collectionLabel(service string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.labels[service]; ok {
		return l
	}
	if service == DefaultCollection {
		return "Login"
	}
	return service
}

// secretArg reads a Secret struct from a decoded body.
func secretArg(v any) (secretStruct, error) {
	f, ok := v.([]any)
	if !ok || len(f) != 4 {
		return secretStruct{}, dbusError(errInvalidArgs, "a secret is (oayays)")
	}
	var s secretStruct
	s.Session, _ = f[0].(dbus.ObjectPath)
	s.Parameters, _ = f[1].([]byte)
	s.Value, _ = f[2].([]byte)
	s.ContentType, _ = f[3].(string)
	return s, nil
}
