//go:build linux

package secretservice

import (
	"strings"

	"github.com/godbus/dbus/v5"
)

// introspect is Introspectable.Introspect, written from the method rows,
// with the properties and signals of each interface.
func (p *Provider) introspect(c *call) ([]any, error) {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">` + "\n<node>\n")
	ifaces := map[string][]*method{}
	var order []string
	for _, m := range methodsOf[c.obj.kind] {
		if _, ok := ifaces[m.iface]; !ok {
			order = append(order, m.iface)
		}
		ifaces[m.iface] = append(ifaces[m.iface], m)
	}
	for _, iface := range order {
		b.WriteString(` <interface name="` + iface + "\">\n")
		for _, m := range ifaces[iface] {
			b.WriteString(`  <method name="` + m.name + "\">\n")
			writeArgs(&b, m.in, "in")
			writeArgs(&b, m.out, "out")
			b.WriteString("  </method>\n")
		}
		b.WriteString(extras[iface])
		b.WriteString(" </interface>\n")
	}
	b.WriteString("</node>\n")
	return []any{b.String()}, nil
}

func writeArgs(b *strings.Builder, sig, dir string) {
	s := dbus.ParseSignatureMust(sig)
	for _, t := range splitSignature(s.String()) {
		b.WriteString(`   <arg type="` + t + `" direction="` + dir + "\"/>\n")
	}
}

// splitSignature splits a signature into its complete types.
func splitSignature(sig string) []string {
	var out []string
	for len(sig) > 0 {
		n := typeLen(sig)
		out = append(out, sig[:n])
		sig = sig[n:]
	}
	return out
}

func typeLen(sig string) int {
	switch sig[0] {
	case 'a':
		return 1 + typeLen(sig[1:])
	case '(', '{':
		depth := 0
		for i := 0; i < len(sig); i++ {
			switch sig[i] {
			case '(', '{':
				depth++
			case ')', '}':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
	}
	return 1
}

// extras are the properties and signals of each interface.
var extras = map[string]string{
	ifaceService: `  <property name="Collections" type="ao" access="read"/>
  <signal name="CollectionCreated"><arg type="o"/></signal>
  <signal name="CollectionDeleted"><arg type="o"/></signal>
  <signal name="CollectionChanged"><arg type="o"/></signal>
`,
	ifaceCollection: `  <property name="Items" type="ao" access="read"/>
  <property name="Label" type="s" access="readwrite"/>
  <property name="Locked" type="b" access="read"/>
  <property name="Created" type="t" access="read"/>
  <property name="Modified" type="t" access="read"/>
  <signal name="ItemCreated"><arg type="o"/></signal>
  <signal name="ItemDeleted"><arg type="o"/></signal>
  <signal name="ItemChanged"><arg type="o"/></signal>
`,
	ifaceItem: `  <property name="Locked" type="b" access="read"/>
  <property name="Attributes" type="a{ss}" access="readwrite"/>
  <property name="Label" type="s" access="readwrite"/>
  <property name="Created" type="t" access="read"/>
  <property name="Modified" type="t" access="read"/>
`,
	ifaceProperties: `  <signal name="PropertiesChanged"><arg type="s"/><arg type="a{sv}"/><arg type="as"/></signal>
`,
}
