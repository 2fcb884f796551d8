package views

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/scepgate/scepgate/model"
)

func pagerText(p Pager) string {
	first := int64((p.Page-1)*p.PerPage) + 1
	last := min(first+int64(p.PerPage)-1, p.Total)
	if p.Text != "" {
		return p.Text
	}
	return fmt.Sprintf("%d–%d of %d", first, last, p.Total)
}

// DateTime formats t as UTC to the second, the text a <time> element
// shows without JavaScript and its tooltip with it.
func DateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// machineTime is the datetime attribute of a <time> element.
func machineTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// Serial prints a stored serial as openssl does (04A603D7...).
func Serial(s string) string { return model.SerialOpenSSL(s) }

// SerialColons prints a stored serial with colons (04:A6:03:D7:...).
func SerialColons(s string) string { return model.SerialColons(s) }

// Date formats t as a day.
func Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

const chartBarStep = 20

type chartBar struct {
	X, Y, H int
	Label   string
	Tick    string
}

// chartBars lays out one bar per day in a 100-unit-high plot area.
func chartBars(days []model.DayCount) (bars []chartBar, maxN, total int) {
	for _, d := range days {
		maxN = max(maxN, d.Count)
		total += d.Count
	}
	scale := max(maxN, 1)
	for i, d := range days {
		h := d.Count * 100 / scale
		if d.Count > 0 && h < 2 {
			h = 2
		}
		b := chartBar{X: 30 + i*chartBarStep, Y: 110 - h, H: h, Label: fmt.Sprintf("%s: %d", d.Day.Format(time.DateOnly), d.Count)}
		if i%7 == 0 {
			b.Tick = d.Day.Format("Jan 2")
		}
		bars = append(bars, b)
	}
	return bars, maxN, total
}

func inputType(t string) string {
	if t == "" {
		return "text"
	}
	return t
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func issuerLabel(s string) string {
	switch s {
	case "store_all":
		return "Store all"
	case "none":
		return "None"
	}
	return s
}

// liveSearch makes a search form, with htmx, refresh the list in
// #results as the person types; without JavaScript the form submits as
// usual.
func liveSearch(action string) templ.Attributes {
	return templ.Attributes{
		"hx-get": action, "hx-trigger": "input delay:400ms, change, submit",
		"hx-target": "#results", "hx-select": "#results", "hx-swap": "outerHTML", "hx-push-url": "true",
	}
}

// confirmAttrs makes portal.js ask msg in a dialog before the form is
// sent, with button as the label of the button that goes ahead; an empty
// msg asks nothing.
func confirmAttrs(msg, button string) templ.Attributes {
	if msg == "" {
		return templ.Attributes{}
	}
	return templ.Attributes{"data-confirm": msg, "data-confirm-button": button}
}

// joinPhrases joins phrases as a sentence does: "a", "a and b", "a, b and c".
func joinPhrases(p []string) string {
	switch len(p) {
	case 0:
		return ""
	case 1:
		return p[0]
	}
	return strings.Join(p[:len(p)-1], ", ") + " and " + p[len(p)-1]
}

// disableQuestion is what the dialog asks before an enabled handler is
// disabled; enabling asks nothing.
func disableQuestion(h model.Handler) string {
	if !h.Enabled {
		return ""
	}
	return "Disable handler " + h.Name + "? Its URL answers 404 and devices that use it can no longer enroll or renew until it is enabled again."
}

var (
	auditProcedureIDs = regexp.MustCompile(`certificate procedures? \[([0-9 ]+)\]`)
	auditReason       = regexp.MustCompile(`\breason ([0-9]+)\b`)
)

// AuditDetail puts names where an audit event's detail recorded ids:
// "certificate procedures [2 3]" becomes their names, "reason 1" the
// revocation reason's name. The stored event stays as it was written.
func AuditDetail(detail string, procedures map[int64]string) string {
	detail = auditProcedureIDs.ReplaceAllStringFunc(detail, func(m string) string {
		ids := auditProcedureIDs.FindStringSubmatch(m)[1]
		var names []string
		for _, f := range strings.Fields(ids) {
			id, _ := strconv.ParseInt(f, 10, 64)
			if n, ok := procedures[id]; ok {
				names = append(names, strconv.Quote(n))
			} else {
				names = append(names, "#"+f)
			}
		}
		label := "certificate procedure "
		if len(names) != 1 {
			label = "certificate procedures "
		}
		return label + strings.Join(names, ", ")
	})
	return auditReason.ReplaceAllStringFunc(detail, func(m string) string {
		code, _ := strconv.Atoi(auditReason.FindStringSubmatch(m)[1])
		if name := revocationReasonName(code); name != "" {
			return "reason " + name
		}
		return m
	})
}

// revocationReasonName names every RFC 5280 reason, including those the
// portal does not offer.
func revocationReasonName(code int) string {
	if n := RevocationReason(code); n != "" {
		return n
	}
	switch code {
	case model.ReasonCACompromise:
		return "CA compromise"
	case model.ReasonCertificateHold:
		return "certificate hold"
	}
	return ""
}
