"""The example single-page app (``/spa/``) in a real browser: it lists the
accounts through the JSON API, connects with Google Identity Services' popup
(the stand-in's), and disconnects, all without leaving the page."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from google_connect.models import GoogleAccount
from tests.e2e.browser import PAGE_TIMEOUT
from tests.stand_in import stand_in_db_over_http

pytestmark = [pytest.mark.e2e, stand_in_db_over_http]

USERNAME, PASSWORD = "spa-user", "spa-password"
ADA = "ada.lovelace@example.com"


@pytest.fixture
def visitor(django_user_model):
    return django_user_model.objects.create_user(USERNAME, "spa@example.com", PASSWORD)


def wait_for(browser, condition):
    return WebDriverWait(browser.driver, PAGE_TIMEOUT).until(condition)


def status_line(driver):
    return driver.find_element(By.ID, "spa-status").text


def test_the_spa_connects_with_the_popup_and_disconnects(browser, visitor):
    browser.open("/login/?next=/spa/")
    browser.fill("username", USERNAME)
    browser.fill("password", PASSWORD)
    browser.press("Log in")
    driver = browser.driver
    assert browser.path == "/spa/"
    wait_for(browser, lambda d: d.find_element(By.ID, "spa-empty").is_displayed())
    page = driver.current_window_handle

    driver.find_element(By.ID, "spa-connect").click()
    wait_for(browser, lambda d: len(d.window_handles) == 2)
    driver.switch_to.window(next(h for h in driver.window_handles if h != page))
    assert "/fake-google/o/oauth2/v2/auth?" in driver.current_url
    assert "redirect_uri=postmessage" in driver.current_url
    driver.find_element(By.CSS_SELECTOR, 'button[value="allow"]').click()
    # The relay page posts the code to the opener and closes the popup.
    wait_for(browser, lambda d: len(d.window_handles) == 1)
    driver.switch_to.window(page)

    wait_for(browser, lambda d: status_line(d) == f"{ADA} is connected.")
    account = GoogleAccount.objects.get()
    assert account.user == visitor
    items = driver.find_elements(By.CSS_SELECTOR, "#spa-accounts li")
    assert [item.text for item in items] == [f"Ada Lovelace <{ADA}> · active Disconnect"]
    assert browser.path == "/spa/"

    driver.find_element(By.CSS_SELECTOR, f'li[data-account="{account.pk}"] button').click()

    wait_for(browser, lambda d: status_line(d) == f"{ADA} is disconnected.")
    wait_for(browser, lambda d: d.find_element(By.ID, "spa-empty").is_displayed())
    assert not GoogleAccount.objects.exists()
