# Masking/set with Ruby's Net::HTTP: ruby set.rb M1 M2
require "json"
require "net/http"

uri = URI((ENV["CALLMASK_URL"] || "http://127.0.0.1:8080") + "/api/v2/Masking/set")
body = { userId: ENV["CALLMASK_USER"], token: ENV["CALLMASK_TOKEN"],
         m1: ARGV[0], m2: ARGV[1], expiry_duration: 60 }.to_json
answer = Net::HTTP.post(uri, body, "Content-Type" => "application/json")
puts answer.body
