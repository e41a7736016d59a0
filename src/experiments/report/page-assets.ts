// The inline stylesheet and script of the experiment report. The script only highlights a
// trial everywhere when one of its elements is hovered, and hides a trial's lines when its
// legend entry is clicked; the page reads the same without it. It reads no data from the page
// but `data-trial` keys (numbers the renderer writes), so untrusted text never reaches it.

export const REPORT_CSS = `
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#202124;margin:24px;background:#fff}
h1{font-size:20px;margin:0 0 4px;word-break:break-word}h2{font-size:15px;margin:30px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:13px;margin:0 0 4px;font-weight:600}
.meta{color:#555;margin-bottom:10px}.muted{color:#777}
.facts{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:8px 0 12px}.facts dt{color:#666}.facts dd{margin:0}
.best-box{padding:8px 12px;border-radius:6px;margin:12px 0;background:#e6f4ea;border:1px solid #a8dab5}
.best-box.none{background:#fdecea;border-color:#f3b7b1}
.chip{display:inline-block;background:#fff;border:1px solid #ccd;border-radius:10px;padding:0 7px;margin:2px 4px 0 0;font-size:12px}
.warnings{padding:6px 12px;border-radius:6px;background:#fef7e0;border:1px solid #f5d67b;margin:10px 0}
.badge{display:inline-block;font-size:11px;font-weight:600;padding:1px 7px;border-radius:8px;white-space:nowrap}
.badge.finished{background:#e6f4ea;color:#137333}.badge.failed{background:#d93025;color:#fff}.badge.stopped,.badge.killed{background:#fbbc04;color:#3c2a00}
.badge.running{background:#d2e3fc;color:#174ea6}.badge.pending{background:#eee;color:#555}.badge.note{background:#eef;color:#334}
.table-wrap{overflow-x:auto;max-width:100%}.table-wrap.tall{max-height:72vh;overflow-y:auto;border:1px solid #e3e3e3}
table{border-collapse:collapse;min-width:60%}th,td{padding:4px 8px;border-bottom:1px solid #eee;vertical-align:top;white-space:nowrap}
th{font-weight:600;text-align:right;background:#f6f7f9;position:sticky;top:0;z-index:1}th.left,td.left{text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.metric{font-weight:600}
td.trial-name{max-width:340px;white-space:normal;overflow-wrap:anywhere}td.trial-name .id{color:#666;font-size:11px;margin-right:4px}
td.notes{white-space:normal;min-width:160px;max-width:460px}
tr.best td{background:#f1f8f3}tr.failed td{background:#fdf3f2}tr.failed td.metric{color:#999;font-weight:400}
.failure{margin:2px 0;word-break:break-word}.failure .reason{font-weight:600;color:#b3261e}
details.stack summary{cursor:pointer;color:#555;font-size:12px}details.stack pre{white-space:pre-wrap;word-break:break-all;font-size:11px;background:#f6f7f9;padding:6px;margin:4px 0;max-height:240px;overflow:auto}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;vertical-align:-1px;margin-right:5px}
.legend{display:flex;flex-wrap:wrap;gap:3px 14px;margin:6px 0 10px}.legend .item{cursor:pointer;user-select:none;max-width:340px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.legend .item.off{opacity:.4;text-decoration:line-through}.legend .item.best{font-weight:600}
details.legend-wrap summary{cursor:pointer;color:#444;margin:6px 0}
.charts{display:flex;flex-wrap:wrap;gap:18px 26px}.chart-box{flex:0 0 auto}
.scroll{overflow-x:auto;max-width:100%}
svg{overflow:visible}svg text{font-family:inherit}svg .tick{font-size:10.5px;fill:#555}svg .axis-name{font-size:12px;font-weight:600;fill:#202124}
svg .axis-sub{font-size:10.5px;fill:#777}svg .axis,svg .tick-mark{stroke:#888;stroke-width:1}svg .grid{stroke:#eee;stroke-width:1}
svg .halo{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
svg polyline{stroke-linejoin:round;stroke-linecap:round}
body.focusing svg [data-trial]:not(.focus){opacity:.12}
svg g.focus>polyline:not(.outline){stroke-width:3px}
svg.curves.many g.curve:not(.best){opacity:.55}
tr.focus td{background:#fff3c4!important}.legend .item.focus{text-decoration:underline}
.hidden{display:none}
`

export const REPORT_SCRIPT = `
(() => {
  const byKey = new Map();
  for (const el of document.querySelectorAll('[data-trial]')) {
    const key = el.getAttribute('data-trial');
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key).push(el);
  }
  let current = null;
  const focus = (key) => {
    if (current === key) return;
    for (const el of byKey.get(current) || []) el.classList.remove('focus');
    current = key;
    document.body.classList.toggle('focusing', key !== null);
    for (const el of byKey.get(key) || []) {
      el.classList.add('focus');
      // SVG has no z-index: move the trial's lines to the top of their chart.
      if (el instanceof SVGGElement && el.parentNode) el.parentNode.insertBefore(el, el.parentNode.querySelector('.axis-group'));
    }
  };
  for (const [key, els] of byKey) for (const el of els) {
    el.addEventListener('mouseenter', () => focus(key));
    el.addEventListener('mouseleave', () => focus(null));
  }
  for (const item of document.querySelectorAll('.legend .item')) {
    item.addEventListener('click', () => {
      const off = item.classList.toggle('off');
      for (const el of byKey.get(item.getAttribute('data-trial')) || []) if (el instanceof SVGElement) el.classList.toggle('hidden', off);
    });
  }
})();
`
