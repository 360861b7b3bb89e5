"""The example site in headless Chromium, driven the way a visitor uses it."""

from __future__ import annotations

from pathlib import Path

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

# Generous for a loaded CI machine; a healthy page takes well under a second.
PAGE_TIMEOUT = 15
# A phone and a laptop: every page must fit both without scrolling sideways.
WIDTHS = (375, 1280)
HEIGHT = 800


class Browser:
    """One method per thing a visitor does or sees."""

    def __init__(self, driver: WebDriver, base_url: str, screenshot_dir: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.screenshot_dir = screenshot_dir

    def at(self, base_url: str) -> Browser:
        """The same browser, on the site served at ``base_url`` (another host name)."""
        return Browser(self.driver, base_url, self.screenshot_dir)

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)
        self.assert_fits()

    def assert_fits(self) -> None:
        """The page shown needs no horizontal scrolling at any of ``WIDTHS``."""
        for width in WIDTHS:
            self.driver.set_window_size(width, HEIGHT)
            scroll, inner = self.driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth];"
            )
            assert scroll <= inner, f"{self.path} is {scroll} px wide in a {inner} px window"

    def fill(self, name: str, value: str) -> None:
        field = self.driver.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)

    def tick(self, name: str) -> None:
        """Tick the first checkbox named ``name`` (the admin's row selector)."""
        box = self.driver.find_element(By.CSS_SELECTOR, f'input[type="checkbox"][name="{name}"]')
        if not box.is_selected():
            box.click()

    def select(self, name: str, value: str) -> None:
        """Pick ``value`` in the drop-down ``name`` (the admin's action list)."""
        Select(self.driver.find_element(By.NAME, name)).select_by_value(value)

    def untick(self, scope: str) -> None:
        box = self.driver.find_element(By.CSS_SELECTOR, f'input[name="scopes"][value="{scope}"]')
        assert box.is_selected(), f"{scope} should start ticked"
        box.click()

    def choose(self, name: str, value: str) -> None:
        """Pick the radio button ``name`` = ``value`` (the stand-in's access choice)."""
        self.driver.find_element(By.CSS_SELECTOR, f'input[name="{name}"][value="{value}"]').click()

    def press(self, label: str) -> None:
        """Click the link or button showing ``label`` and wait for the page it leads to."""
        # A form's button before a link of the same name (the login page has both).
        target = self.driver.find_element(
            By.XPATH,
            f'(//button[normalize-space(.)="{label}"] | //a[normalize-space(.)="{label}"])'
            f"[not(self::a and //button[normalize-space(.)='{label}'])]",
        )
        # Mark the current document, then wait for a document without the
        # mark. Probing an element of the old page instead (staleness_of) races
        # with the navigation: Chromium may answer "Node with given id does not
        # belong to the document", which is no StaleElementReferenceException.
        self.driver.execute_script("window.googleConnectOldPage = true;")
        target.click()
        wait = WebDriverWait(self.driver, PAGE_TIMEOUT, ignored_exceptions=(WebDriverException,))
        wait.until(
            lambda d: d.execute_script(
                "return !window.googleConnectOldPage && document.readyState === 'complete';"
            )
        )
        self.assert_fits()

    def back(self) -> None:
        """The browser's Back button."""
        self.driver.back()
        self.assert_fits()

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base_url)

    @property
    def status(self) -> int:
        """The HTTP status of the page shown (the last response of any redirects)."""
        return self.driver.execute_script(
            "return performance.getEntriesByType('navigation')[0].responseStatus"
        )

    @property
    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    @property
    def html(self) -> str:
        return self.driver.page_source

    def lines_of(self, css: str, width: int) -> list[str]:
        """The text of the element ``css`` line by line, as laid out ``width`` px wide."""
        self.driver.set_window_size(width, HEIGHT)
        element = self.driver.find_element(By.CSS_SELECTOR, css)
        # Character by character: where a character starts lower than the one
        # before, the browser broke the line.
        return self.driver.execute_script(
            """
            const walker = document.createTreeWalker(arguments[0], NodeFilter.SHOW_TEXT);
            const lines = [""];
            let top = null;
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              for (let i = 0; i < node.data.length; i++) {
                const range = document.createRange();
                range.setStart(node, i);
                range.setEnd(node, i + 1);
                const box = range.getClientRects()[0];
                if (!box) continue;
                if (top !== null && box.top > top + 1) lines.push("");
                top = box.top;
                lines[lines.length - 1] += node.data[i];
              }
            }
            return lines.map((line) => line.trim()).filter((line) => line);
            """,
            element,
        )

    def link_to(self, href: str) -> str:
        return self.driver.find_element(By.CSS_SELECTOR, f'a[href="{href}"]').text

    def href_of(self, label: str) -> str:
        """The ``href`` of the link showing ``label``, as written in the page."""
        link = self.driver.find_element(By.XPATH, f'//a[normalize-space(.)="{label}"]')
        return link.get_dom_attribute("href")

    def screenshot(self, name: str) -> list[Path]:
        """Save what the visitor sees as ``name`` (a PNG, 1280 px wide) and as
        ``name`` ending in ``-375.png`` (a phone), in the screenshot directory."""
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for width in sorted(WIDTHS, reverse=True):
            stem = name.removesuffix(".png")
            path = self.screenshot_dir / (name if width == max(WIDTHS) else f"{stem}-{width}.png")
            self.driver.set_window_size(width, HEIGHT)
            if not self.driver.save_screenshot(str(path)):
                raise AssertionError(f"Chromium could not save the screenshot {path.name}")
            paths.append(path)
        return paths
