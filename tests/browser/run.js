// The frame of the test pages in tests/browser/: runs body(out), records an error instead of throwing, then
// publishes out as window.result (the tests wait for it) and says "done" on the page.
export async function run(body) {
  const out = { errors: [] };
  try {
    await body(out);
  } catch (e) {
    out.errors.push(`${e.code ?? ''} ${e.message}`);
  }
  document.getElementById('status').textContent = 'done';
  window.result = out;
}
