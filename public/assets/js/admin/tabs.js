// The admin page's sections as WAI-ARIA tabs: arrow keys move between them,
// and the address's #fragment names the open one, so a reload keeps it.

/**
 * @param {HTMLElement} tablist
 * @param {(name: string) => void} onShow called with the tab's name (`overview`, `codes`, …) each time one opens
 * @returns {{show: (name: string) => void, current: () => string}}
 */
export function setUpTabs(tablist, onShow) {
  const tabs = /** @type {HTMLButtonElement[]} */ ([...tablist.querySelectorAll('[role="tab"]')]);
  const nameOf = (tab) => tab.id.replace(/^tab-/, '');
  let current = '';

  function show(name, focus = false) {
    const chosen = tabs.find((tab) => nameOf(tab) === name) ?? tabs[0];
    for (const tab of tabs) {
      const selected = tab === chosen;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      const panel = document.getElementById(tab.getAttribute('aria-controls') ?? '');
      if (panel) panel.hidden = !selected;
    }
    if (focus) chosen.focus();
    current = nameOf(chosen);
    if (location.hash !== `#${current}`) history.replaceState(null, '', `#${current}`);
    onShow(current);
  }

  for (const tab of tabs) {
    tab.addEventListener('click', () => show(nameOf(tab)));
    tab.addEventListener('keydown', (event) => {
      const index = tabs.indexOf(tab);
      const next = {
        ArrowRight: tabs[(index + 1) % tabs.length],
        ArrowLeft: tabs[(index - 1 + tabs.length) % tabs.length],
        Home: tabs[0],
        End: tabs[tabs.length - 1],
      }[event.key];
      if (!next) return;
      event.preventDefault();
      show(nameOf(next), true);
    });
  }
  addEventListener('hashchange', () => {
    const name = location.hash.slice(1);
    if (name !== current) show(name);
  });

  return { show, current: () => current };
}
