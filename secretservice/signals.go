//go:build linux

package secretservice

import (
	"github.com/godbus/dbus/v5"

	"github.com/keyctl-go/keyctl-go/secrets"
)

// signalChanges turns the store's notifications into the API's signals,
// whoever made the change: a D-Bus client, a program through the secrets
// package, the command line. Events come in commit order.
func (p *Provider) signalChanges() {
	for ev, err := range p.watch.Events(p.ctx) {
		if err != nil {
			if p.ctx.Err() == nil {
				p.log.Error("secretservice: watch ended; changes are no longer signalled", "err", err)
			}
			return
		}
		p.signal(ev)
	}
}

func (p *Provider) signal(ev secrets.Event) {
	coll := collectionPath(ev.Service)
	switch ev.Kind {
	case secrets.Created, secrets.Updated, secrets.Deleted, secrets.Expired:
		item := itemPath(ev.Service, ev.Account)
		switch ev.Kind {
		case secrets.Created:
			p.emit(coll, ifaceCollection+".ItemCreated", item)
		case secrets.Updated:
			p.emit(coll, ifaceCollection+".ItemChanged", item)
			p.itemPropertiesChanged(ev.Service, ev.Account)
		default:
			p.emit(coll, ifaceCollection+".ItemDeleted", item)
		}
		if ev.Kind != secrets.Updated {
			p.itemsChanged(ev.Service)
		}
	case secrets.ServiceCreated:
		p.emit(servicePath, ifaceService+".CollectionCreated", coll)
		p.collectionsChanged()
	case secrets.ServiceDeleted:
		p.emit(servicePath, ifaceService+".CollectionDeleted", coll)
		p.collectionsChanged()
	case secrets.Lost:
		// What changed is not known: every collection may have.
		names, err := p.st.Services(p.ctx)
		if err != nil {
			return
		}
		for _, name := range names {
			p.emit(servicePath, ifaceService+".CollectionChanged", collectionPath(name))
			p.itemsChanged(name)
		}
		p.collectionsChanged()
	}
}

// emit sends a signal; one that cannot be sent is logged, not retried.
func (p *Provider) emit(path dbus.ObjectPath, name string, args ...any) {
	if err := p.conn.Emit(path, name, args...); err != nil && p.ctx.Err() == nil {
		p.log.Warn("secretservice: signal not sent", "signal", name, "path", path, "err", err)
	}
}

func (p *Provider) emitProperties(path dbus.ObjectPath, iface string, changed map[string]dbus.Variant) {
	p.emit(path, ifaceProperties+".PropertiesChanged", iface, changed, []string{})
}

func (p *Provider) collectionsChanged() {
	c := &call{ctx: p.ctx, path: servicePath, obj: object{kind: objService}}
	if props, err := p.properties(c, ifaceService, "Collections"); err == nil {
		p.emitProperties(servicePath, ifaceService, props)
	}
}

func (p *Provider) itemsChanged(service string) {
	path := collectionPath(service)
	c := &call{ctx: p.ctx, path: path, obj: object{kind: objCollection, service: service}}
	if props, err := p.properties(c, ifaceCollection, ""); err == nil {
		delete(props, "Label")
		delete(props, "Locked")
		p.emitProperties(path, ifaceCollection, props)
	}
}

func (p *Provider) itemPropertiesChanged(service, account string) {
	it, err := p.st.Lookup(p.ctx, service, account)
	if err != nil {
		return
	}
	props := map[string]dbus.Variant{}
	itemProps(it, p.isLocked(service), props, func(name string) bool { return name != "Locked" })
	p.emitProperties(itemPath(service, account), ifaceItem, props)
}

// lockChanged signals a collection locked or unlocked.
func (p *Provider) lockChanged(service string) {
	path := collectionPath(service)
	p.emitProperties(path, ifaceCollection, map[string]dbus.Variant{"Locked": dbus.MakeVariant(p.isLocked(service))})
	p.emit(servicePath, ifaceService+".CollectionChanged", path)
}
