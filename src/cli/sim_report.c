/* HTML report. Charts are inline SVG polylines drawn from the per-step series, one colour
 * per policy, with a legend; text is escaped. The page needs no network and no script. */
#define _POSIX_C_SOURCE 200809L
#include "cli/sim_report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const colours[] = {"#1b6ac9", "#d1495b", "#2e933c", "#e08e0b",
                                      "#7b4fc4", "#00798c", "#8a5a44", "#555555"};

static void
put_escaped(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<':
            (void)fputs("&lt;", f);
            break;
        case '>':
            (void)fputs("&gt;", f);
            break;
        case '&':
            (void)fputs("&amp;", f);
            break;
        case '"':
            (void)fputs("&quot;", f);
            break;
        default:
            (void)fputc(*s, f);
        }
    }
}

/* "1h", "30m", "90s", "0". */
static void
duration_label(double s, char *buf, size_t len)
{
    if (s <= 0)
        (void)snprintf(buf, len, "0");
    else if (fmod(s, 3600) == 0)
        (void)snprintf(buf, len, "%gh", s / 3600);
    else if (fmod(s, 60) == 0)
        (void)snprintf(buf, len, "%gm", s / 60);
    else
        (void)snprintf(buf, len, "%gs", s);
}

void
sim_run_label(const struct sim_run *r, char *buf, size_t len)
{
    if (r->label != NULL) {
        (void)snprintf(buf, len, "%s", r->label);
    } else if (r->policy == SIM_VMLOC && r->variant) {
        char c[32];
        duration_label(r->cooldown_s, c, sizeof(c));
        (void)snprintf(buf, len, "vmloc %u/%u %s", (unsigned)r->persist_k, (unsigned)r->persist_n,
                       c);
    } else if (!sim_policy_is_reference(r->policy)) {
        (void)snprintf(buf, len, "%s", sim_policy_name(r->policy));
    } else if (r->show_seed) {
        (void)snprintf(buf, len, r->param == floor(r->param) ? "%s %.1f s%llu" : "%s %g s%llu",
                       sim_policy_name(r->policy), r->param, (unsigned long long)r->seed);
    } else {
        (void)snprintf(buf, len, r->param == floor(r->param) ? "%s %.1f" : "%s %g",
                       sim_policy_name(r->policy), r->param);
    }
}

double
sim_run_bound_ratio(const struct sim_run *run)
{
    if (!(run->res.lower_bound_kwh > 0))
        return NAN;
    return run->res.stats.energy_kwh / run->res.lower_bound_kwh;
}

#define W 720.0
#define H 220.0
#define PAD_L 56.0
#define PAD_B 28.0

enum series {
    SERIES_ACTIVE,
    SERIES_ENERGY,
    SERIES_OVERLOADED,
    SERIES_MIGRATIONS,
    SERIES_BOUND,
};

static double
value_of(const struct sim_point *p, enum series s)
{
    switch (s) {
    case SERIES_ACTIVE:
        return p->active_hosts;
    case SERIES_ENERGY:
        return p->energy_kwh;
    case SERIES_OVERLOADED:
        return p->overloaded_hosts;
    case SERIES_MIGRATIONS:
        return p->migrations;
    case SERIES_BOUND:
        return p->bound_kwh;
    }
    return 0;
}

/* Whether run i's energy bound is drawn: it has one, and no earlier run has the same. */
static bool
draws_bound(const struct sim_run *runs, size_t i)
{
    if (!(runs[i].res.lower_bound_kwh > 0))
        return false;
    for (size_t k = 0; k < i; k++)
        if (runs[k].res.lower_bound_kwh == runs[i].res.lower_bound_kwh)
            return false;
    return true;
}

static void
polyline(FILE *f, const struct sim_run *run, size_t i, enum series s, double tmax, double vmax)
{
    (void)fprintf(f, "<polyline fill=none stroke=\"%s\" stroke-width=%s points=\"",
                  colours[i % (sizeof(colours) / sizeof(colours[0]))],
                  s == SERIES_BOUND ? "1 stroke-dasharray=\"5 4\"" : "1.5");
    for (size_t k = 0; k < run->res.n_points; k++) {
        const struct sim_point *p = &run->res.points[k];
        double x = PAD_L + W * p->time_s / tmax;
        double y = 5 + H - H * value_of(p, s) / vmax;
        (void)fprintf(f, "%.1f,%.1f ", x, y);
    }
    (void)fputs("\" />\n", f);
}

static void
chart(FILE *f, const char *title, const char *unit, enum series s, const struct sim_run *runs,
      size_t n)
{
    double tmax = 1;
    double vmax = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < runs[i].res.n_points; k++) {
            const struct sim_point *p = &runs[i].res.points[k];
            if (p->time_s > tmax)
                tmax = p->time_s;
            if (value_of(p, s) > vmax)
                vmax = value_of(p, s);
            if (s == SERIES_ENERGY && p->bound_kwh > vmax)
                vmax = p->bound_kwh;
        }
    }
    if (vmax <= 0)
        vmax = 1;
    /* Round the axis up to 4 ticks of 1, 2 or 5 times a power of ten. */
    double raw = vmax / 4;
    double mag = pow(10, floor(log10(raw)));
    double tick = raw <= mag ? mag : raw <= 2 * mag ? 2 * mag : raw <= 5 * mag ? 5 * mag : 10 * mag;
    vmax = tick * 4;
    (void)fprintf(f, "<figure><figcaption>%s <span class=u>(%s)</span></figcaption>\n", title,
                  unit);
    (void)fprintf(f, "<svg viewBox=\"0 0 %.0f %.0f\" role=img aria-label=\"%s\">\n", W + PAD_L + 10,
                  H + PAD_B + 10, title);
    /* Axes and grid: 4 horizontal lines, hours on the x axis. */
    for (int g = 0; g <= 4; g++) {
        double y = 5 + H - H * g / 4.0;
        (void)fprintf(f,
                      "<line x1=%.1f y1=%.1f x2=%.1f y2=%.1f class=grid />"
                      "<text x=%.1f y=%.1f class=ax text-anchor=end>%.4g</text>\n",
                      PAD_L, y, PAD_L + W, y, PAD_L - 6, y + 4, vmax * g / 4.0);
    }
    double hours = tmax / 3600.0;
    int step_h = hours > 48 ? 12 : hours > 12 ? 3 : 1;
    for (int hr = 0; hr <= (int)hours; hr += step_h) {
        double x = PAD_L + W * (hr * 3600.0) / tmax;
        (void)fprintf(f, "<text x=%.1f y=%.1f class=ax text-anchor=middle>%dh</text>\n", x,
                      5 + H + 18, hr);
    }
    for (size_t i = 0; i < n; i++) {
        polyline(f, &runs[i], i, s, tmax, vmax);
        if (s == SERIES_ENERGY && draws_bound(runs, i))
            polyline(f, &runs[i], i, SERIES_BOUND, tmax, vmax);
    }
    (void)fputs("</svg></figure>\n", f);
}

/* With several vmloc settings: migrations against SLAV, relative to the first vmloc run. */
static void
tradeoff(FILE *f, const struct sim_run *runs, size_t n)
{
    const struct sim_run *base = NULL;
    size_t nv = 0;
    double mmax = 1;
    double smax = 0;
    for (size_t i = 0; i < n; i++) {
        if (!runs[i].variant)
            continue;
        if (base == NULL)
            base = &runs[i];
        nv++;
        if ((double)runs[i].res.stats.migrations > mmax)
            mmax = (double)runs[i].res.stats.migrations;
        if (runs[i].res.stats.slav > smax)
            smax = runs[i].res.stats.slav;
    }
    if (nv < 2)
        return;
    char bl[32];
    sim_run_label(base, bl, sizeof(bl));
    (void)fprintf(f,
                  "<h2>Anti-flapping trade-off</h2>\n<p>Each vmloc setting (persistence K/N, "
                  "cooldown) against <b>%s</b>: fewer migrations is better, and SLAV should "
                  "not rise by more than 10 %%.</p>\n<table><tr><th>setting</th><th>migrations"
                  "</th><th>vs %s</th><th>SLAV</th><th>vs %s</th><th>energy kWh</th></tr>\n",
                  bl, bl, bl);
    const struct dc_stats *b = &base->res.stats;
    for (size_t i = 0; i < n; i++) {
        if (!runs[i].variant)
            continue;
        const struct dc_stats *s = &runs[i].res.stats;
        char label[32];
        sim_run_label(&runs[i], label, sizeof(label));
        double dm = b->migrations > 0 ? 100.0 * ((double)s->migrations - (double)b->migrations) /
                                            (double)b->migrations
                                      : 0.0;
        double ds = b->slav > 0 ? 100.0 * (s->slav - b->slav) / b->slav : 0.0;
        (void)fprintf(f,
                      "<tr><td><span style=\"color:%s\">&#9632;</span> %s</td><td>%llu</td>"
                      "<td>%+.1f %%</td><td>%.3e</td><td>%+.1f %%</td><td>%.2f</td></tr>\n",
                      colours[i % (sizeof(colours) / sizeof(colours[0]))], label,
                      (unsigned long long)s->migrations, dm, s->slav, ds, s->energy_kwh);
    }
    (void)fputs("</table>\n", f);
    /* Scatter: migrations (x) against SLAV (y), the 10 % line over the reference. */
    if (smax <= 0)
        smax = 1;
    smax *= 1.15;
    mmax *= 1.1;
    (void)fprintf(f,
                  "<figure><figcaption>Migrations and SLAV <span class=u>per vmloc setting; "
                  "dashed: SLAV of %s + 10 %%</span></figcaption>\n"
                  "<svg viewBox=\"0 0 %.0f %.0f\" role=img>\n",
                  bl, PAD_L + W + 20, H + PAD_B + 10);
    for (int g = 0; g <= 4; g++) {
        double y = 5 + H - H * g / 4.0;
        double x = PAD_L + W * g / 4.0;
        (void)fprintf(f,
                      "<line x1=%.1f y1=%.1f x2=%.1f y2=%.1f class=grid />"
                      "<text x=%.1f y=%.1f class=ax text-anchor=end>%.3g</text>"
                      "<text x=%.1f y=%.1f class=ax text-anchor=middle>%.0f</text>\n",
                      PAD_L, y, PAD_L + W, y, PAD_L - 6, y + 4, smax * g / 4.0, x, 5 + H + 18,
                      mmax * g / 4.0);
    }
    double ylim = 5 + H - H * (b->slav * 1.1) / smax;
    (void)fprintf(f,
                  "<line x1=%.1f y1=%.1f x2=%.1f y2=%.1f stroke=\"#d1495b\" "
                  "stroke-dasharray=\"5 4\" />\n",
                  PAD_L, ylim, PAD_L + W, ylim);
    for (size_t i = 0; i < n; i++) {
        if (!runs[i].variant)
            continue;
        const struct dc_stats *s = &runs[i].res.stats;
        double x = PAD_L + W * (double)s->migrations / mmax;
        double y = 5 + H - H * s->slav / smax;
        char label[32];
        sim_run_label(&runs[i], label, sizeof(label));
        (void)fprintf(f,
                      "<circle cx=%.1f cy=%.1f r=4 fill=\"%s\" /><text x=%.1f y=%.1f "
                      "class=ax>%s</text>\n",
                      x, y, colours[i % (sizeof(colours) / sizeof(colours[0]))], x + 6, y - 6,
                      strncmp(label, "vmloc ", 6) == 0 ? label + 6 : label);
    }
    (void)fputs("</svg></figure>\n", f);
}

/* The largest 1, 2 or 5 times a power of ten not above `x` (> 0). */
static double
nice_below(double x)
{
    double mag = pow(10, floor(log10(x)));
    return x >= 5 * mag ? 5 * mag : x >= 2 * mag ? 2 * mag : mag;
}

/* The smallest 1, 2 or 5 times a power of ten not below `x` (> 0). */
static double
nice_above(double x)
{
    double mag = pow(10, floor(log10(x)));
    return x <= mag ? mag : x <= 2 * mag ? 2 * mag : x <= 5 * mag ? 5 * mag : 10 * mag;
}

#define SC_W 560.0      /* the scatter's plot area; its size legend goes to the right */
#define SC_RMAX 18.0    /* radius of the run with the most migrations */
#define SC_RMIN 2.5     /* a run with no migrations: a ring of this radius */
#define SC_LEGEND 170.0 /* as wide as the other charts */

/* Point radius for `m` migrations when the most is `mmax`: the area is proportional (the
 * points' outline keeps a tiny one visible). */
static double
point_radius(double m, double mmax)
{
    if (!(m > 0) || !(mmax > 0))
        return SC_RMIN;
    return SC_RMAX * sqrt(m / mmax);
}

/* The size legend: up to three round migration counts, largest first. */
static void
size_legend(FILE *f, double mmax)
{
    double x = PAD_L + SC_W + 40;
    double y = 5 + 16;
    (void)fprintf(f, "<text x=%.1f y=%.1f class=ax>migrations</text>\n", x - 14, y);
    if (!(mmax > 0)) {
        (void)fprintf(f,
                      "<circle class=key cx=%.1f cy=%.1f r=%.1f fill=none stroke=\"#888\" />"
                      "<text x=%.1f y=%.1f class=ax>0</text>\n",
                      x, y + 20, SC_RMIN, x + SC_RMAX + 8, y + 24);
        return;
    }
    double v = nice_below(mmax);
    y += 8;
    for (int k = 0; k < 3 && v >= 1; k++) {
        double r = point_radius(v, mmax);
        y += r + 6;
        (void)fprintf(f,
                      "<circle class=key cx=%.1f cy=%.1f r=%.1f fill=none stroke=\"#888\" />"
                      "<text x=%.1f y=%.1f class=ax>%.0f</text>\n",
                      x, y, r, x + SC_RMAX + 8, y + 4, v);
        y += r;
        v = nice_below(v / 4);
    }
}

/* Energy over the bound (y) against SLATAH (x) for every run with a bound, one point per
 * run whose area is proportional to its migrations; the dashed line is the bound itself.
 * Nothing when no run has a bound (a live replay run alone). */
static void
bound_scatter(FILE *f, const struct sim_run *runs, size_t n)
{
    double xmax = 0, ylo = 1, yhi = 1, mmax = 0;
    size_t drawn = 0;
    for (size_t i = 0; i < n; i++) {
        double ratio = sim_run_bound_ratio(&runs[i]);
        if (!isfinite(ratio))
            continue;
        drawn++;
        xmax = fmax(xmax, runs[i].res.stats.slatah * 100);
        ylo = fmin(ylo, ratio);
        yhi = fmax(yhi, ratio);
        mmax = fmax(mmax, (double)runs[i].res.stats.migrations);
    }
    if (drawn == 0)
        return;
    /* Axes of 1, 2 or 5 times a power of ten per tick, with room for the largest point. */
    double xt = nice_above((xmax > 0 ? xmax * 1.15 : 1) / 4);
    xmax = 4 * xt;
    double yt = nice_above((yhi - ylo > 0 ? (yhi - ylo) * 1.3 : 0.1 * yhi) / 4);
    ylo = floor((ylo - 0.1 * (yhi - ylo)) / yt) * yt;
    if (ylo < 0)
        ylo = 0;
    int yn = (int)ceil((yhi + 0.1 * (yhi - ylo)) / yt - ylo / yt - 1e-9);
    if (yn < 2)
        yn = 2;
    double ytop = ylo + yn * yt;
    (void)fputs("<figure><figcaption>Energy against SLA <span class=u>energy / bound against "
                "SLATAH %, one point per policy run, point area proportional to its migrations; "
                "dashed: the bound (1.0)</span></figcaption>\n",
                f);
    (void)fprintf(f,
                  "<svg class=scatter viewBox=\"0 0 %.0f %.0f\" role=img "
                  "aria-label=\"Energy against SLA\">\n",
                  PAD_L + SC_W + SC_LEGEND, H + PAD_B + 10);
    for (int g = 0; g <= yn; g++) {
        double y = 5 + H - H * g / yn;
        (void)fprintf(f,
                      "<line x1=%.1f y1=%.1f x2=%.1f y2=%.1f class=grid />"
                      "<text x=%.1f y=%.1f class=ax text-anchor=end>%.4g</text>\n",
                      PAD_L, y, PAD_L + SC_W, y, PAD_L - 6, y + 4, ylo + yt * g);
    }
    for (int g = 0; g <= 4; g++)
        (void)fprintf(f, "<text x=%.1f y=%.1f class=ax text-anchor=middle>%.4g %%</text>\n",
                      PAD_L + SC_W * g / 4.0, 5 + H + 18, xt * g);
    double y1 = 5 + H - H * (1 - ylo) / (ytop - ylo);
    (void)fprintf(f,
                  "<line x1=%.1f y1=%.1f x2=%.1f y2=%.1f stroke=\"#888\" "
                  "stroke-dasharray=\"5 4\" />\n",
                  PAD_L, y1, PAD_L + SC_W, y1);
    for (size_t i = 0; i < n; i++) {
        double ratio = sim_run_bound_ratio(&runs[i]);
        if (!isfinite(ratio))
            continue;
        const struct dc_stats *s = &runs[i].res.stats;
        const char *c = colours[i % (sizeof(colours) / sizeof(colours[0]))];
        double x = PAD_L + SC_W * s->slatah * 100 / xmax;
        double y = 5 + H - H * (ratio - ylo) / (ytop - ylo);
        double r = point_radius((double)s->migrations, mmax);
        char label[32];
        sim_run_label(&runs[i], label, sizeof(label));
        (void)fprintf(f,
                      "<circle class=pt data-migrations=%llu cx=%.1f cy=%.1f r=%.4g fill=\"%s\" "
                      "fill-opacity=0.45 stroke=\"%s\"><title>",
                      (unsigned long long)s->migrations, x, y, r, s->migrations > 0 ? c : "none",
                      c);
        put_escaped(f, label);
        (void)fprintf(f, ": %llu migrations</title></circle><text x=%.1f y=%.1f class=ax>",
                      (unsigned long long)s->migrations, x + r + 3, y + 4);
        put_escaped(f, label);
        (void)fputs("</text>\n", f);
    }
    size_legend(f, mmax);
    (void)fputs("</svg></figure>\n", f);
}

int
sim_report_write(const char *path, const char *trace, const struct sim_run *runs, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    (void)fputs("<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
                "<meta name=viewport content=\"width=device-width, initial-scale=1\">\n"
                "<title>vmloc sim report</title>\n<style>\n"
                "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:820px;"
                "color:#222;padding:0 1em}\n"
                "table{border-collapse:collapse;margin:1em 0}td,th{padding:.25em .6em;"
                "border-bottom:1px solid #ddd;text-align:right}th:first-child,"
                "td:first-child{text-align:left}\n"
                "figure{margin:1.5em 0}figcaption{font-weight:600}.u{font-weight:400;"
                "color:#666}\n"
                "svg{width:100%;height:auto}.grid{stroke:#e4e4e4}.ax{font-size:11px;"
                "fill:#666}\n"
                ".key span{display:inline-block;width:1em;height:.3em;margin:0 .3em .2em 1em;"
                "vertical-align:middle}\n"
                "</style></head><body>\n<h1>vmloc sim</h1>\n<p>Trace <code>",
                f);
    put_escaped(f, trace);
    (void)fprintf(f, "</code>: %zu VMs on %zu hosts. ", runs[0].res.n_vms, runs[0].res.n_hosts);
    (void)fputs("Metrics as defined in docs/sim.md (energy in kWh; SLATAH, PDM and the overall "
                "SLA violation as percentages; ESV = energy &times; SLATAH &times; PDM). ",
                f);
    (void)fputs("The energy bound is the day's demand served on the most efficient host type "
                "loaded exactly to the policy's threshold (docs/sim.md, &ldquo;The energy "
                "bound&rdquo;); energy / bound is how far a policy is from perfect packing.</p>\n",
                f);
    (void)fputs("<table><tr><th>policy</th><th>energy kWh</th><th>lower bound kWh</th>"
                "<th>energy / bound</th><th>migrations</th>"
                "<th>SLATAH %</th><th>PDM %</th><th>SLAV</th><th>ESV</th>"
                "<th>SLA violation %</th><th>host shutdowns</th></tr>\n",
                f);
    for (size_t i = 0; i < n; i++) {
        const struct dc_stats *s = &runs[i].res.stats;
        char label[32];
        sim_run_label(&runs[i], label, sizeof(label));
        (void)fprintf(f,
                      "<tr><td><span style=\"color:%s\">&#9632;</span> %s</td><td>%.2f</td>"
                      "<td>%.2f</td><td>%.3f</td>"
                      "<td>%llu</td><td>%.3f</td><td>%.4f</td><td>%.3e</td><td>%.3e</td>"
                      "<td>%.3f</td><td>%llu</td></tr>\n",
                      colours[i % (sizeof(colours) / sizeof(colours[0]))], label, s->energy_kwh,
                      runs[i].res.lower_bound_kwh, sim_run_bound_ratio(&runs[i]),
                      (unsigned long long)s->migrations, s->slatah * 100, s->pdm * 100, s->slav,
                      s->esv, s->overall_sla_violation * 100,
                      (unsigned long long)s->host_shutdowns);
    }
    (void)fputs("</table>\n<p class=key>", f);
    for (size_t i = 0; i < n; i++) {
        char label[32];
        sim_run_label(&runs[i], label, sizeof(label));
        (void)fprintf(f, "<span style=\"background:%s\"></span>%s",
                      colours[i % (sizeof(colours) / sizeof(colours[0]))], label);
    }
    (void)fputs("</p>\n", f);
    tradeoff(f, runs, n);
    chart(f, "Active hosts", "hosts drawing power after each decision step", SERIES_ACTIVE, runs,
          n);
    chart(f, "Energy against the bound",
          "kWh, cumulative; dashed: the energy bound at the policy's threshold", SERIES_ENERGY,
          runs, n);
    bound_scatter(f, runs, n);
    chart(f, "Overloaded hosts", "hosts over the policy's limit at each step", SERIES_OVERLOADED,
          runs, n);
    chart(f, "Migrations", "started at each decision step", SERIES_MIGRATIONS, runs, n);
    (void)fputs("</body></html>\n", f);
    if (ferror(f)) {
        (void)fclose(f);
        return -EIO;
    }
    if (fclose(f) != 0)
        return -errno;
    return 0;
}

json_t *
sim_run_json(const struct sim_run *run)
{
    const struct dc_stats *s = &run->res.stats;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "policy", json_string(sim_policy_name(run->policy)));
    if (sim_policy_is_reference(run->policy))
        bad |= json_object_set_new(o, "param", json_real(run->param));
    if (sim_policy_is_random(run->policy))
        bad |= json_object_set_new(o, "seed", json_integer((json_int_t)run->seed));
    if (run->policy == SIM_VMLOC) {
        char kn[32];
        (void)snprintf(kn, sizeof(kn), "%u/%u", (unsigned)run->persist_k, (unsigned)run->persist_n);
        bad |= json_object_set_new(o, "persistence", json_string(kn));
        bad |= json_object_set_new(o, "cooldown_s", json_real(run->cooldown_s));
        bad |= json_object_set_new(o, "conflict_host_steps",
                                   json_integer((json_int_t)run->res.conflict_host_steps));
        bad |= json_object_set_new(o, "unconfirmed_host_steps",
                                   json_integer((json_int_t)run->res.unconfirmed_host_steps));
        bad |= json_object_set_new(o, "conflict_migrations",
                                   json_integer((json_int_t)run->res.conflict_migrations));
    }
    bad |= json_object_set_new(o, "hosts", json_integer((json_int_t)run->res.n_hosts));
    bad |= json_object_set_new(o, "vms", json_integer((json_int_t)run->res.n_vms));
    bad |= json_object_set_new(o, "energy_kwh", json_real(s->energy_kwh));
    if (run->res.lower_bound_kwh > 0) {
        bad |= json_object_set_new(o, "bound_threshold", json_real(run->res.bound_threshold));
        bad |= json_object_set_new(o, "lower_bound_kwh", json_real(run->res.lower_bound_kwh));
        bad |= json_object_set_new(o, "physical_bound_kwh", json_real(run->res.physical_bound_kwh));
        bad |= json_object_set_new(o, "bound_ratio", json_real(sim_run_bound_ratio(run)));
        bad |= json_object_set_new(o, "mean_active_hosts", json_real(run->res.mean_active_hosts));
        bad |= json_object_set_new(o, "mean_bound_hosts", json_real(run->res.mean_bound_hosts));
        bad |= json_object_set_new(o, "mean_active_util", json_real(run->res.mean_active_util));
        bad |= json_object_set_new(o, "efficient_share", json_real(run->res.efficient_share));
        bad |= json_object_set_new(o, "idle_power_share", json_real(run->res.idle_power_share));
    }
    bad |= json_object_set_new(o, "migrations", json_integer((json_int_t)s->migrations));
    bad |= json_object_set_new(o, "slatah", json_real(s->slatah));
    bad |= json_object_set_new(o, "pdm", json_real(s->pdm));
    bad |= json_object_set_new(o, "slav", json_real(s->slav));
    bad |= json_object_set_new(o, "esv", json_real(s->esv));
    bad |= json_object_set_new(o, "overall_sla_violation", json_real(s->overall_sla_violation));
    bad |= json_object_set_new(o, "host_shutdowns", json_integer((json_int_t)s->host_shutdowns));
    bad |= json_object_set_new(o, "simulated_s", json_real(s->time_s));
    bad |= json_object_set_new(o, "wall_s", json_real(run->res.wall_s));
    if (isfinite(run->overloaded_host_steps))
        bad |= json_object_set_new(o, "overloaded_host_steps",
                                   json_integer((json_int_t)run->overloaded_host_steps));
    if (bad != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
