import Foundation
import STUNCore
import Testing

@testable import ServerHost

@Suite struct ServerConfigurationTests {
    private func resolve(_ env: [String: String] = [:], flags: [String: String] = [:]) throws(ConfigurationError) -> ServerConfiguration {
        try ServerConfiguration.resolve(flags: flags, environment: env, fileExists: { $0.hasPrefix("/exists") })
    }

    private func failure(_ env: [String: String], flags: [String: String] = [:]) -> ConfigurationError? {
        do {
            _ = try resolve(env, flags: flags)
            return nil
        } catch {
            return error
        }
    }

    @Test func defaultsMatchTheConfigurationContract() throws {
        let configuration = try resolve()
        #expect(configuration.httpPort == 8080)
        #expect(configuration.serveTLS == false)
        #expect(configuration.tlsPort == 8443)
        #expect(configuration.mqttPort == 1883)
        #expect(configuration.stunPort == nil)
        #expect(configuration.iceServers.isEmpty)
        #expect(configuration.authRequired == false)
        #expect(configuration.authMethod == .none)
        #expect(configuration.logLevel == .info)
    }

    @Test func aFlagWinsOverTheEnvironmentVariable() throws {
        let configuration = try resolve(["STUN_PORT": "3478"], flags: ["STUN_PORT": "5000"])
        #expect(configuration.stunPort == 5000)
        #expect(try resolve(["STUN_PORT": "3478"]).stunPort == 3478)
    }

    @Test func minusOneDisablesAPort() throws {
        let configuration = try resolve(["HTTP_PORT": "-1", "MQTT_PORT": "-1", "STUN_PORT": "-1"])
        #expect(configuration.httpPort == nil)
        #expect(configuration.mqttPort == nil)
        #expect(configuration.stunPort == nil)
    }

    @Test(arguments: [
        ("STUN_PORT", "abc"), ("STUN_PORT", "65536"), ("STUN_PORT", "-2"), ("HTTP_PORT", "80x"),
        ("MQTT_PORT", "1e3"), ("TLS_PORT", "-1"), ("SERVE_TLS", "maybe"), ("AUTH_REQUIRED", "2"),
        ("LOG_LEVEL", "verbose"), ("ICE_SERVERS", "[{\"urls\":"), ("OIDC_SERVER", "not a url"),
    ])
    func aBadValueNamesItsVariable(variable: String, value: String) {
        let error = failure([variable: value])
        #expect(error?.variable == variable)
        #expect(error?.description.contains(variable) == true)
    }

    @Test(arguments: ["true", "TRUE", "1", "yes", "Yes"])
    func booleansAcceptTheDocumentedTrueSpellings(text: String) throws {
        #expect(try SettingValue.bool(text, variable: "X") == true)
    }

    @Test(arguments: ["false", "0", "no", "NO"])
    func booleansAcceptTheDocumentedFalseSpellings(text: String) throws {
        #expect(try SettingValue.bool(text, variable: "X") == false)
    }

    @Test func iceServerErrorsSayWhichEntryIsWrong() {
        let error = failure(["ICE_SERVERS": #"[{"urls":"stun:a"},{"urls":["turn:b"]}]"#])
        #expect(error?.variable == "ICE_SERVERS")
        #expect(error?.expected.contains("entry 1") == true)
        let type = failure(["ICE_SERVERS": #"[{"urls":"turn:b","username":"u","credential":"c","credentialType":"oauth"}]"#])
        #expect(type?.expected.contains("credentialType") == true)
    }

    @Test func iceServersAreParsed() throws {
        let configuration = try resolve(["ICE_SERVERS": #"[{"urls":["stun:10.0.0.10:3478?transport=udp"]},{"urls":"turn:[2001:db8::1]?transport=tcp","username":"u","credential":"p"}]"#])
        #expect(configuration.iceServers.count == 2)
        #expect(configuration.iceServers[1].urls[0].port == 3478)
        #expect(configuration.iceServers[1].urls[0].transport == .tcp)
    }

    @Test func tlsFilesComeInPairsAndMustExistWhenTLSIsOn() {
        #expect(failure(["TLS_CERT": "/exists/cert.pem"])?.variable == "TLS_KEY")
        #expect(failure(["TLS_KEY": "/exists/key.pem"])?.variable == "TLS_CERT")
        #expect(failure(["SERVE_TLS": "true", "TLS_CERT": "/missing.pem", "TLS_KEY": "/exists/key.pem"])?.variable == "TLS_CERT")
        #expect(failure(["SERVE_TLS": "true", "TLS_CERT": "/exists/c.pem", "TLS_KEY": "/exists/k.pem"]) == nil)
        #expect(failure(["SERVE_TLS": "true"]) == nil, "a self-signed certificate is generated when none is given")
    }

    @Test func requiredAuthenticationNeedsAUserMethodAndADesktopKey() throws {
        #expect(failure(["AUTH_REQUIRED": "true"])?.variable == "AUTH_REQUIRED")
        #expect(failure(["AUTH_REQUIRED": "true", "CLIENT_PSK": "c"])?.variable == "DESKTOP_PSK")
        #expect(try resolve(["AUTH_REQUIRED": "true", "CLIENT_PSK": "c", "DESKTOP_PSK": "d"]).authMethod == .psk)
        let oidc = try resolve([
            "AUTH_REQUIRED": "yes", "DESKTOP_PSK": "d", "OIDC_SERVER": "https://issuer.example", "OIDC_CLIENT_ID": "pod",
        ])
        #expect(oidc.authMethod == .oidc)
        #expect(failure(["OIDC_SERVER": "https://issuer.example"])?.variable == "OIDC_CLIENT_ID")
        // CLIENT_PSK wins over OIDC (config.md).
        #expect(try resolve(["AUTH_REQUIRED": "1", "DESKTOP_PSK": "d", "CLIENT_PSK": "c", "OIDC_SERVER": "https://i.example"]).authMethod == .psk)
    }

    @Test func secretsAreNeverEchoedInErrors() {
        let error = failure(["AUTH_REQUIRED": "true", "CLIENT_PSK": "hunter2"])
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test func everySettingHasAFlagNamedAfterItsVariable() {
        let flags = ServerConfiguration.settings.map(\.flag)
        #expect(flags.contains("stun-port"))
        #expect(flags.contains("oidc-client-id"))
        #expect(Set(flags).count == ServerConfiguration.settings.count)
        let help = ServerCommand.helpMessage()
        for setting in ServerConfiguration.settings {
            #expect(help.contains("--\(setting.flag)"), "--help lists --\(setting.flag)")
            #expect(help.contains(setting.variable), "--help names \(setting.variable)")
        }
    }
}
