// Package kcm is a KCM server: the daemon that MIT krb5's and Heimdal's
// KCM credential cache type sends every cache operation to, over a Unix
// socket, in Heimdal's KCM protocol.
package kcm
