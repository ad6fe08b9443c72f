//go:build !linux

package main

import "syscall"

// procAttr has no parent-death signal outside Linux (where the harness cannot read /proc anyway).
func procAttr() *syscall.SysProcAttr { return nil }
