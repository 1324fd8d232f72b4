package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/rootless"
)

// usernsError is why strata info runs outside a user namespace (rootless,
// when none can be had), for it to say so.
var usernsError error

// enterUserNS runs before every command: a normal user's strata
// re-executes itself in a user namespace where it is root (package
// rootless), and the command runs there. Commands that touch neither the
// store nor a container run as they are.
func enterUserNS(cmd *cobra.Command, _ []string) error {
	if os.Geteuid() == 0 {
		return nil
	}
	switch cmd.Name() {
	case "version", "help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
		return nil
	}
	err := rootless.Enter() // returns only on failure
	if cmd.Name() == "info" {
		usernsError = err
		return nil
	}
	return err
}
