package main

// `peerchat contacts add|list|remove|pin`: the friend list. See
// contacts.go for the file, contacts_trust.go for how dial, send and
// listen use it.

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

func contactsFlag() cli.Flag {
	return &cli.StringFlag{Name: "contacts", EnvVars: []string{"PEERCHAT_CONTACTS"},
		Usage: "the contacts `FILE` (default: contacts in the config directory, $XDG_CONFIG_HOME/peerchat)"}
}

// contactsPath is --contacts, or the contacts file in the config directory.
func contactsPath(c *cli.Context) (string, error) {
	if p := c.String("contacts"); p != "" {
		return p, nil
	}
	return defaultContactsPath()
}

func contactsCommand(u *ui) *cli.Command {
	sub := func(name, usage, args, desc string, action func(*cli.Context, *ui, string) error, flags ...cli.Flag) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: args, Description: desc,
			Flags:        append([]cli.Flag{contactsFlag()}, flags...),
			OnUsageError: onUsageError,
			Action: func(c *cli.Context) error {
				path, err := contactsPath(c)
				if err != nil {
					return err
				}
				return action(c, u, path)
			},
		}
	}
	return &cli.Command{
		Name:  "contacts",
		Usage: "remember peers: where they are and which certificate is theirs (dial NAME, send NAME)",
		Description: "A contact is a peer name, the address to dial it at, and the fingerprint of its\n" +
			"certificate. `peerchat dial NAME` and `peerchat send NAME FILE...` dial a contact's\n" +
			"address and accept only a certificate for NAME with that fingerprint; the first\n" +
			"connection to a contact without one pins it (trust on first use). A listener\n" +
			"holds a contact that dials in to its pin as well. The file is\n" +
			"$XDG_CONFIG_HOME/peerchat/contacts (--contacts, PEERCHAT_CONTACTS), one contact a line.",
		Subcommands: []*cli.Command{
			sub("add", "add a contact: its peer name and address, and its fingerprint if you have it",
				"NAME HOST[:PORT] [--fingerprint FINGERPRINT]",
				"Without --fingerprint, the first connection pins the certificate it meets. With it,\n"+
					"only that certificate is accepted: the full SHA-256 fingerprint, as `peerchat certs\n"+
					"show` or `openssl x509 -fingerprint -sha256` print it, colons and case optional.",
				contactsAddAction,
				&cli.StringFlag{Name: "fingerprint", Usage: "the full SHA-256 `FINGERPRINT` of the contact's certificate"}),
			sub("list", "list the contacts: name, address, fingerprint, last connected", " ", "", contactsListAction),
			sub("remove", "forget a contact", "NAME", "", contactsRemoveAction),
			sub("pin", "replace a contact's fingerprint, after it re-issued its certificate", "NAME FINGERPRINT",
				"Check the new fingerprint with the peer by voice (or in person) first: a changed\n"+
					"certificate is also what someone else pretending to be them would present.",
				contactsPinAction),
		},
	}
}

// contactsAddAction takes --fingerprint before or after the arguments, as
// the usage line shows it after them.
func contactsAddAction(c *cli.Context, u *ui, path string) error {
	args := c.Args().Slice()
	fpArg := c.String("fingerprint")
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--fingerprint" || a == "-fingerprint":
			if i+1 == len(args) {
				return usagef("--fingerprint needs a value: peerchat contacts add NAME HOST[:PORT] --fingerprint FINGERPRINT")
			}
			fpArg = args[i+1]
			i++
		case strings.HasPrefix(a, "--fingerprint="):
			fpArg = strings.TrimPrefix(a, "--fingerprint=")
		case strings.HasPrefix(a, "-"):
			return usagef("unknown flag %s; see `peerchat contacts add --help`", a)
		default:
			rest = append(rest, a)
		}
	}
	if len(rest) != 2 {
		return usagef("contacts add needs a name and an address: peerchat contacts add NAME HOST[:PORT] [--fingerprint FINGERPRINT], e.g. peerchat contacts add alice 192.0.2.7")
	}
	ct := contact{Name: rest[0]}
	if !validName.MatchString(ct.Name) {
		return usagef("%q is not a peer name: use letters, digits, '.', '-' or '_', as in the certificate", ct.Name)
	}
	var err error
	if ct.Addr, err = contactAddr(rest[1]); err != nil {
		return usagef("%v", err)
	}
	if fpArg != "" {
		if ct.Pin, err = parseFullFingerprint(fpArg); err != nil {
			return usagef("--fingerprint: %v", err)
		}
	}
	err = updateContacts(path, func(list []contact) ([]contact, error) {
		if i := findContact(list, ct.Name); i >= 0 {
			return nil, usagef("%s is already a contact, at %s; change its fingerprint with `peerchat contacts pin %s FINGERPRINT`, or remove it first (`peerchat contacts remove %s`)",
				ct.Name, list[i].Addr, ct.Name, ct.Name)
		}
		return append(list, ct), nil
	})
	if err != nil {
		return err
	}
	if ct.Pin == "" {
		u.notice("added %s at %s, not pinned yet: the first connection pins its certificate (compare the safety code by voice then)", ct.Name, ct.Addr)
	} else {
		u.notice("added %s at %s, pinned to fingerprint %s", ct.Name, ct.Addr, ct.Pin)
	}
	return nil
}

func contactsListAction(c *cli.Context, u *ui, path string) error {
	if err := noExtraArgs(c, 0); err != nil {
		return err
	}
	list, err := readContacts(path)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		u.notice("no contacts in %s yet; add one with `peerchat contacts add NAME HOST[:PORT]`", path)
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	tw := tabwriter.NewWriter(u.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tFINGERPRINT (SHA-256)\tLAST CONNECTED")
	for _, ct := range list {
		pin := ct.Pin
		if pin == "" {
			pin = "not pinned yet"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ct.Name, ct.Addr, pin, lastConnected(ct.Last))
	}
	return tw.Flush()
}

func contactsRemoveAction(c *cli.Context, u *ui, path string) error {
	if c.Args().Len() != 1 {
		return usagef("contacts remove needs one name: peerchat contacts remove NAME")
	}
	name := c.Args().First()
	var gone contact
	err := updateContacts(path, func(list []contact) ([]contact, error) {
		i := findContact(list, name)
		if i < 0 {
			return nil, noContact(name, path)
		}
		gone = list[i]
		return append(list[:i], list[i+1:]...), nil
	})
	if err != nil {
		return err
	}
	u.notice("removed %s (%s) from %s", gone.Name, gone.Addr, path)
	return nil
}

func contactsPinAction(c *cli.Context, u *ui, path string) error {
	if c.Args().Len() != 2 {
		return usagef("contacts pin needs a name and a fingerprint: peerchat contacts pin NAME FINGERPRINT")
	}
	name := c.Args().Get(0)
	fp, err := parseFullFingerprint(c.Args().Get(1))
	if err != nil {
		return usagef("%v", err)
	}
	var old string
	err = updateContacts(path, func(list []contact) ([]contact, error) {
		i := findContact(list, name)
		if i < 0 {
			return nil, noContact(name, path)
		}
		old = list[i].Pin
		list[i].Pin = fp
		return list, nil
	})
	if err != nil {
		return err
	}
	switch old {
	case "":
		u.notice("pinned %s to fingerprint %s", name, fp)
	case fp:
		u.notice("%s was already pinned to fingerprint %s", name, fp)
	default:
		u.notice("pinned %s to fingerprint %s (was %s)", name, fp, old)
	}
	return nil
}

func noContact(name, path string) error {
	return usagef("%s is not a contact (in %s); `peerchat contacts list` shows them", name, path)
}

// lastConnected formats a contact's last connection for messages.
func lastConnected(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04")
}
