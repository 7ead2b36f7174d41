"""The web client's desktop list and sign-in, in headless Chromium (selenium).

The page is served by the ``web_stack`` fixture (web_support.py); desktops are
simulated by publishing their retained status as a desktop would.
"""

from __future__ import annotations

import secrets
import time

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from web_support import browser, save_screenshot, web_stack  # noqa: F401 - fixtures

import mqtt_helpers


def desktop_ids_shown(browser) -> list[str]:
    return browser.js(
        "return [...document.querySelectorAll('.desktop-card')].map((e) => e.dataset.desktopId)"
    )


def test_the_list_shows_an_online_desktop_and_drops_it_when_it_goes_offline(web_stack, browser) -> None:
    stack = web_stack(auth="none")
    desktop_id = f"arcade-{secrets.token_hex(3)}"
    desktop = stack.desktop_client(desktop_id)
    try:
        desktop.publish_ok(f"desktops/{desktop_id}/status", "online", qos=1, retain=True)
        browser.get(stack.page("/"))
        browser.wait_for(lambda: desktop_ids_shown(browser) == [desktop_id], what=f"{desktop_id} in the list")
        chip_text = browser.find_element(By.CSS_SELECTOR, f'[data-desktop-id="{desktop_id}"] .chip').get_attribute("textContent")
        assert chip_text == "Online"

        # A second desktop appears live, without reloading.
        second = f"retro-{secrets.token_hex(3)}"
        other = stack.desktop_client(second)
        other.publish_ok(f"desktops/{second}/status", "online", qos=1, retain=True)
        browser.wait_for(lambda: desktop_ids_shown(browser) == sorted([desktop_id, second]),
                         what="both desktops in the list")

        desktop.publish_ok(f"desktops/{desktop_id}/status", "offline", qos=1, retain=True)
        browser.wait_for(lambda: desktop_ids_shown(browser) == [second], what=f"{desktop_id} removed")

        # Its last will (offline) removes the other one when it vanishes without a word.
        other.paho.socket().close()
        browser.wait_for(lambda: browser.find_elements(By.ID, "empty-state"), what="the empty state")
        assert browser.find_element(By.CSS_SELECTOR, "#empty-state h2").text == "No desktops online"
    finally:
        desktop.stop()


def test_the_list_page_is_screenshotted_with_desktops(web_stack, browser) -> None:
    stack = web_stack(auth="none")
    clients = []
    try:
        for name in ("living-room-pc", "steam-deck", "workstation"):
            client = stack.desktop_client(name)
            client.publish_ok(f"desktops/{name}/status", "online", qos=1, retain=True)
            clients.append(client)
        browser.get(stack.page("/"))
        browser.wait_for(lambda: len(desktop_ids_shown(browser)) == 3, what="three desktops")
        browser.wait_for(lambda: browser.find_element(By.CSS_SELECTOR, ".chip-broker").get_attribute("data-status")
                         == "connected", what="the server chip")
        browser.js("document.activeElement && document.activeElement.blur()")
        time.sleep(0.5)  # let the cards' entry animation finish before the picture
        path = save_screenshot(browser, "desktop-list.png")
        assert path.stat().st_size > 10_000
    finally:
        for client in clients:
            client.publish(f"desktops/{client.login.username}/status", "", qos=1, retain=True)
            client.stop()


def test_a_psk_server_asks_for_the_key_refuses_a_wrong_one_and_accepts_the_right_one(web_stack, browser) -> None:
    desktop_id = f"psk-{secrets.token_hex(3)}"
    stack = web_stack(auth="psk", desktop_ids=[desktop_id])
    desktop = stack.desktop_client(desktop_id)
    try:
        desktop.publish_ok(f"desktops/{desktop_id}/status", "online", qos=1, retain=True)
        browser.get(stack.page("/"))
        field = browser.wait_for(lambda: browser.find_element(By.ID, "psk"), what="the key prompt")
        assert desktop_ids_shown(browser) == []

        field.send_keys("not-the-key")
        browser.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
        error = browser.wait_for(
            lambda: browser.find_element(By.ID, "psk-error").text, what="the wrong-key message")
        assert "not accepted" in error
        assert browser.js("return sessionStorage.getItem('pod-arcade.psk')") is None

        field = browser.find_element(By.ID, "psk")
        field.clear()
        field.send_keys(stack.client_psk)
        browser.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
        browser.wait_for(lambda: desktop_ids_shown(browser) == [desktop_id], what="the desktop after the right key")

        # The key is remembered for the tab: a reload goes straight to the list.
        browser.refresh()
        browser.wait_for(lambda: desktop_ids_shown(browser) == [desktop_id], what="the list after a reload")
        assert not browser.find_elements(By.ID, "psk")
    finally:
        desktop.stop()


def test_the_broker_refuses_the_pages_user_with_a_wrong_key_and_accepts_the_right_one(web_stack) -> None:
    """The stand-in's rules, checked without a browser, so a broken stand-in is told apart
    from a broken page."""
    stack = web_stack(auth="psk")
    good = stack.user_client()
    good.stop()
    login = mqtt_helpers.Login(f"user:{secrets.token_hex(3)}", "psk-user", "wrong")
    code = mqtt_helpers.connect_refused(stack.broker, mqtt_helpers.V311, login)
    assert code in (mqtt_helpers.V311_BAD_USER_NAME_OR_PASSWORD, mqtt_helpers.V311_NOT_AUTHORIZED)


def test_the_page_says_when_the_broker_cannot_be_reached(web_stack, browser) -> None:
    stack = web_stack(auth="none", backend="standin")
    stack.require_standin("stops the stand-in's broker behind a running HTTP server")
    stack.broker.process.exit_expected = True
    stack.broker.process.stop()
    browser.get(stack.page("/"))
    browser.wait_for(lambda: browser.find_element(By.CSS_SELECTOR, ".chip-broker").get_attribute("data-status")
                     in ("failed", "reconnecting"), what="the server chip to show the problem")
    browser.get(stack.page("/desktops/arcade"))
    message = browser.wait_for(lambda: browser.find_element(By.ID, "session-error").text, what="the session error")
    assert message.startswith("Could not start the session")
    assert browser.find_element(By.ID, "session-status").get_attribute("data-status") == "failed"


def test_the_list_can_be_used_with_the_keyboard_alone(web_stack, browser) -> None:
    stack = web_stack(auth="none")
    desktop_id = f"keys-{secrets.token_hex(3)}"
    desktop = stack.desktop_client(desktop_id)
    try:
        desktop.publish_ok(f"desktops/{desktop_id}/status", "online", qos=1, retain=True)
        browser.get(stack.page("/"))
        browser.wait_for(lambda: desktop_ids_shown(browser) == [desktop_id], what="the desktop")
        for _ in range(6):
            ActionChains(browser.driver).send_keys(Keys.TAB).perform()
            if browser.js("return document.activeElement.dataset.desktopId") == desktop_id:
                break
        assert browser.js("return document.activeElement.dataset.desktopId") == desktop_id
        outline = browser.js("return getComputedStyle(document.activeElement).boxShadow")
        assert outline != "none", "the focused card shows no focus ring"
        ActionChains(browser.driver).send_keys(Keys.ENTER).perform()
        browser.wait_for(lambda: browser.current_url == stack.page(f"/desktops/{desktop_id}"), what="the session page")
    finally:
        desktop.stop()
