//go:build linux

package secretservice

import (
	"context"
	"time"

	"github.com/godbus/dbus/v5"
)

// callTimeout bounds how long one D-Bus call may take in the store: a
// client's call never holds the provider longer, whatever the disk does.
const callTimeout = 30 * time.Second

// call is one method call being served.
type call struct {
	ctx    context.Context
	sender string
	path   dbus.ObjectPath
	obj    object
	args   []any
}

// method is one row of the API: its interface, name, signatures, and
// what serves it. The rows drive dispatch and introspection alike.
type method struct {
	iface, name string
	in, out     string // D-Bus signatures
	serve       func(p *Provider, c *call) ([]any, error)
}

// LookupObject implements dbus.Handler: any path the API could name is an
// object; whether it exists is the method's question, asked only once the
// caller is authorized.
func (p *Provider) LookupObject(path dbus.ObjectPath) (dbus.ServerObject, bool) {
	o, ok := parsePath(path)
	if !ok {
		return nil, false
	}
	return &serverObject{p: p, path: path, obj: o}, true
}

type serverObject struct {
	p    *Provider
	path dbus.ObjectPath
	obj  object
}

// LookupInterface implements dbus.ServerObject. A call that names no
// interface looks through all of the object's.
func (o *serverObject) LookupInterface(name string) (dbus.Interface, bool) {
	for _, m := range methodsOf[o.obj.kind] {
		if name == "" || m.iface == name {
			return serverInterface{o: o, name: name}, true
		}
	}
	return nil, false
}

type serverInterface struct {
	o    *serverObject
	name string
}

// LookupMethod implements dbus.Interface.
func (i serverInterface) LookupMethod(name string) (dbus.Method, bool) {
	for _, m := range methodsOf[i.o.obj.kind] {
		if (i.name == "" || m.iface == i.name) && m.name == name {
			return &boundMethod{o: i.o, m: m}, true
		}
	}
	return nil, false
}

// boundMethod is a row bound to the object it was called on.
type boundMethod struct {
	o *serverObject
	m *method
}

// DecodeArguments implements dbus.ArgumentDecoder: the body, already
// decoded by its signature, goes to Call with the sender, once the
// signature is the row's.
func (b *boundMethod) DecodeArguments(_ *dbus.Conn, sender string, msg *dbus.Message, body []any) ([]any, error) {
	sig := ""
	if v, ok := msg.Headers[dbus.FieldSignature]; ok {
		if s, ok := v.Value().(dbus.Signature); ok {
			sig = s.String()
		}
	}
	if sig != b.m.in {
		return nil, dbusError(errInvalidArgs, "signature "+sig+" of "+b.m.iface+"."+b.m.name+", want "+b.m.in)
	}
	return []any{sender, body}, nil
}

// Call implements dbus.Method: authorize, then serve.
func (b *boundMethod) Call(args ...any) ([]any, error) {
	sender, _ := args[0].(string)
	body, _ := args[1].([]any)
	p := b.o.p
	if err := p.authorize(sender); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(p.ctx, callTimeout)
	defer cancel()
	c := &call{ctx: ctx, sender: sender, path: b.o.path, obj: b.o.obj, args: body}
	out, err := b.m.serve(p, c)
	if err != nil {
		if _, ok := err.(*dbus.Error); !ok {
			p.log.Warn("secretservice: call failed", "method", b.m.iface+"."+b.m.name, "path", b.o.path, "err", err)
			err = dbusError(errFailed, err.Error())
		}
		return nil, err
	}
	return out, nil
}

// The rest of dbus.Method: godbus asks them only of methods that do not
// decode their own arguments.
func (b *boundMethod) NumArguments() int     { return 2 }
func (b *boundMethod) NumReturns() int       { return 0 }
func (b *boundMethod) ArgumentValue(int) any { return nil }
func (b *boundMethod) ReturnValue(int) any   { return nil }
