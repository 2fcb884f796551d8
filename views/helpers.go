package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/scepgate/scepgate/model"
)

func pagerText(p Pager) string {
	first := int64((p.Page-1)*p.PerPage) + 1
	last := min(first+int64(p.PerPage)-1, p.Total)
	return fmt.Sprintf("%d–%d of %d", first, last, p.Total)
}

// DateTime formats t for tables: UTC to the minute.
func DateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

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
